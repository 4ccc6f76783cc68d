"""Password guessing and account farming, from one client that forges
X-Forwarded-For on every request: the throttles and the per-account lockout
count the real address (the TCP peer; no proxy is trusted by default)."""
import itertools

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from backend.accounts.lockout import lockout_seconds

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "correct horse battery staple"
_spoof = (f"203.0.113.{i % 250}, 198.51.100.{i % 250}" for i in itertools.count())


def sign_in(client, login="ada", password=PASSWORD):
    return client.post("/api/auth/signin/", {"login": login, "password": password}, format="json",
                       HTTP_X_FORWARDED_FOR=next(_spoof))


def test_failed_sign_ins_lock_the_account_whatever_address_they_claim(settings):
    User.objects.create_user("ada", "ada@example.com", PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(APIClient(), password="guess").json()["code"] == "invalid_credentials"
    locked = sign_in(APIClient(), password="guess")
    assert locked.status_code == 429 and locked.json()["code"] == "locked_out", locked.content
    assert int(locked["Retry-After"]) >= 1 and "locked" in locked.json()["message"]
    # Locked means locked: the right password waits too, by e-mail as well.
    right = sign_in(APIClient())
    assert right.status_code == 429 and right.json()["code"] == "locked_out"
    assert sign_in(APIClient(), login="ADA@example.com").status_code == 429
    # Another account is not affected.
    User.objects.create_user("bea", "bea@example.com", PASSWORD)
    assert sign_in(APIClient(), login="bea").status_code == 200


def test_the_lockout_doubles_with_every_failure_past_the_limit(settings):
    settings.LOCKOUT_BASE_SECONDS, settings.LOCKOUT_MAX_SECONDS = 60, 3600
    limit = settings.AXES_FAILURE_LIMIT
    assert [lockout_seconds(limit + i) for i in range(-1, 8)] == [0, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_the_lockout_ends_and_a_success_resets_the_count(settings):
    from axes.models import AccessAttempt
    from django.utils import timezone

    User.objects.create_user("ada", "ada@example.com", PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(APIClient(), password="guess")
    assert sign_in(APIClient()).status_code == 429
    # Time passes: the lockout (60 s after the latest failure) is over.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timezone.timedelta(seconds=61))
    assert sign_in(APIClient()).status_code == 200
    assert not AccessAttempt.objects.exists()


def test_sign_ups_are_throttled_per_real_address(settings):
    statuses = []
    for i in range(8):
        r = APIClient().post("/api/auth/signup/", {"username": f"sock{i}", "email": f"s{i}@example.com",
                                                  "password": PASSWORD}, format="json", HTTP_X_FORWARDED_FOR=next(_spoof))
        statuses.append(r.status_code)
    assert statuses == [201] * 5 + [429] * 3, statuses
    assert User.objects.count() == 5


def test_a_trusted_proxy_passes_the_client_address_on(settings):
    """Behind the configured proxy, each client is counted by the address the
    proxy saw; what a client wrote to the left of it is still ignored."""
    import ipaddress

    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    def sign_up(i, client_ip):
        return APIClient().post("/api/auth/signup/", {"username": f"u{i}", "email": f"u{i}@example.com",
                                                     "password": PASSWORD}, format="json",
                                HTTP_X_FORWARDED_FOR=f"10.9.9.{i}, {client_ip}")
    assert [sign_up(i, "192.0.2.1").status_code for i in range(6)] == [201] * 5 + [429]
    # A different client behind the same proxy has its own budget.
    assert sign_up(7, "192.0.2.2").status_code == 201


def test_admin_sign_in_is_throttled_per_address():
    statuses = {Client().post("/admin/login/", {"username": "x", "password": "y"},
                              HTTP_X_FORWARDED_FOR=next(_spoof)).status_code for _ in range(25)}
    assert 429 in statuses


def test_admin_sign_in_counts_toward_the_account_lockout(settings):
    User.objects.create_user("root", "root@example.com", PASSWORD, is_staff=True, is_superuser=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/admin/login/", {"username": "root", "password": "guess"})
    r = Client().post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert r.status_code == 429
