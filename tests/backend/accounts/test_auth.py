"""Sign up, sign in, sign out over the REST API; anonymous drafts follow the writer into the account."""
import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from backend.documents.models import Document

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "correct horse battery staple"


def sign_up(client, username="ada", email="ada@example.com", password=PASSWORD):
    return client.post("/api/auth/signup/", {"username": username, "email": email, "password": password}, format="json")


def sign_in(client, login="ada", password=PASSWORD):
    return client.post("/api/auth/signin/", {"login": login, "password": password}, format="json")


def draft(client, title):
    r = client.post("/api/documents/", {"title": title, "body": f"{title} body"}, format="json")
    assert r.status_code == 201
    return r.json()["id"]


def titles(client):
    return sorted(d["title"] for d in client.get("/api/documents/").json())


def test_sign_up_signs_in_and_moves_the_session_drafts():
    client = APIClient()
    ids = [draft(client, "one"), draft(client, "two")]
    r = sign_up(client)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["user"] == {"username": "ada", "email": "ada@example.com"}
    assert body["moved_drafts"] == 2 and body["csrf"]
    user = User.objects.get(username="ada")
    assert user.check_password(PASSWORD)
    assert client.get("/api/session/").json()["user"]["username"] == "ada"
    # Nothing lost, nothing copied: the same rows now belong to the account.
    for doc in Document.objects.filter(pk__in=ids):
        assert doc.owner == user and doc.writer == ""
    assert Document.objects.count() == 2
    assert titles(client) == ["one", "two"]
    for doc_id in ids:
        assert client.get(f"/api/documents/{doc_id}/").status_code == 200


def test_sign_in_moves_this_browsers_drafts_and_keeps_the_accounts_own():
    User.objects.create_user("ada", "ada@example.com", PASSWORD)
    laptop = APIClient()
    assert sign_in(laptop).status_code == 200
    draft(laptop, "from the laptop")

    phone, stranger = APIClient(), APIClient()
    draft(phone, "typed on the phone, signed out")
    draft(stranger, "someone else's")
    r = sign_in(phone)
    assert r.status_code == 200 and r.json()["moved_drafts"] == 1
    assert titles(phone) == ["from the laptop", "typed on the phone, signed out"]
    assert titles(laptop) == ["from the laptop", "typed on the phone, signed out"]
    # Another browser's anonymous drafts stay where they were.
    assert titles(stranger) == ["someone else's"]


def test_sign_in_by_email_any_case():
    User.objects.create_user("Ada", "Ada@Example.com", PASSWORD)
    assert sign_in(APIClient(), login="ada@example.COM").json()["user"]["username"] == "Ada"
    assert sign_in(APIClient(), login="ADA").status_code == 200


def test_wrong_password_or_unknown_name_gets_the_same_answer():
    User.objects.create_user("ada", "ada@example.com", PASSWORD)
    wrong = sign_in(APIClient(), password="not it")
    unknown = sign_in(APIClient(), login="nobody")
    for r in (wrong, unknown):
        assert r.status_code == 400
        assert r.json()["code"] == "invalid_credentials"
    assert wrong.json() == unknown.json()


def test_inactive_accounts_cannot_sign_in():
    User.objects.create_user("ada", "ada@example.com", PASSWORD, is_active=False)
    assert sign_in(APIClient()).json()["code"] == "invalid_credentials"


def test_sign_up_refusals_have_their_own_codes():
    client = APIClient()
    assert sign_up(client).status_code == 201
    other = APIClient()
    taken = sign_up(other, username="ADA", email="new@example.com")
    assert taken.status_code == 409 and taken.json()["code"] == "username_taken"
    weak = sign_up(other, username="bea", email="bea@example.com", password="12345678")
    assert weak.status_code == 400 and weak.json()["code"] == "weak_password"
    assert "too common" in weak.json()["message"] and weak.json()["errors"]["password"]
    bad = sign_up(other, username="no spaces allowed", email="not-an-email", password=PASSWORD)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
    assert set(bad.json()["errors"]) == {"username", "email"}
    missing = other.post("/api/auth/signup/", {}, format="json")
    assert missing.json()["code"] == "invalid_request"
    assert set(missing.json()["errors"]) == {"username", "email", "password"}
    assert not User.objects.filter(username="bea").exists()


def test_a_taken_email_gets_the_same_answer_and_its_owner_an_email(mailoutbox):
    """No account enumeration: sign-up answers the same for a known e-mail
    (the reset form hides it too); the existing owner is told by e-mail."""
    User.objects.create_user("ada", "ada@example.com", PASSWORD)
    fresh = sign_up(APIClient(), username="cy", email="cy@example.com")
    known = sign_up(APIClient(), username="bea", email="ADA@example.com")
    assert known.status_code == fresh.status_code == 201
    assert set(known.json()) == set(fresh.json()) and known.json()["user"]["username"] == "bea"
    (notice,) = mailoutbox
    assert notice.to == ["ada@example.com"] and '"ada"' in notice.body and "/reset" in notice.body
    # Sign-in by that e-mail still finds the original account.
    assert sign_in(APIClient(), login="ada@example.com").json()["user"]["username"] == "ada"


def test_sign_out_starts_a_fresh_anonymous_session():
    client = APIClient()
    draft(client, "before")
    sign_up(client)
    out = client.post("/api/auth/signout/", format="json")
    assert out.status_code == 200 and out.json()["user"] is None
    assert client.get("/api/session/").json()["user"] is None
    # The account's drafts are not this signed-out browser's any more.
    assert client.get("/api/documents/").json() == []
    draft(client, "after")
    assert titles(client) == ["after"]
    sign_in(client)
    assert titles(client) == ["after", "before"]


def test_account_page_needs_sign_in():
    client = APIClient()
    r = client.get("/api/account/")
    assert r.status_code == 403 and r.json()["code"] == "not_signed_in"
    sign_up(client)
    draft(client, "mine")
    account = client.get("/api/account/").json()
    assert account["username"] == "ada" and account["drafts"] == 1 and account["published"] == 0


def test_auth_endpoints_are_throttled(monkeypatch):
    from backend.throttling import WriteThrottle

    monkeypatch.setattr(WriteThrottle, "THROTTLE_RATES", {"writes": "100/min", "auth": "3/min"})
    client = APIClient()
    answers = [sign_in(client, password=f"guess {i}").status_code for i in range(4)]
    assert answers == [400, 400, 400, 429]
    r = sign_in(client)
    assert r.json()["code"] == "throttled" and r["Retry-After"]
    # Autosaves have their own budget.
    assert client.post("/api/documents/", {}, format="json").status_code == 201
