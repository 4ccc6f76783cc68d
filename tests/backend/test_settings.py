"""Production settings pass Django's deployment checks; a missing secret is refused."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "WRITEUP_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy(tmp_path):
    r = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="k" * 20 + "-production-secret-for-tests-0123456789abcdefghijklmnop",
        DJANGO_ALLOWED_HOSTS="writeup.example",
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout


def test_production_without_a_secret_key_refuses_to_start(tmp_path):
    r = manage("check", DJANGO_DEBUG="0", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    assert r.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in r.stderr


def test_migrations_are_committed(tmp_path):
    r = manage("makemigrations", "--check", "--dry-run", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    assert r.returncode == 0, r.stdout + r.stderr


PRODUCTION = {"DJANGO_DEBUG": "0", "DJANGO_ALLOWED_HOSTS": "writeup.example"}


def test_production_refuses_the_public_development_key(tmp_path):
    from backend.settings import _DEV_SECRET

    for key in (_DEV_SECRET, "short-key"):
        r = manage("check", DJANGO_SECRET_KEY=key, DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", **PRODUCTION)
        assert r.returncode != 0 and "ImproperlyConfigured" in r.stderr and "DJANGO_SECRET_KEY" in r.stderr


def test_production_refuses_default_passwords(tmp_path):
    key = "k" * 50
    for name, value in (("DATABASE_URL", "postgres://writeup:writeup@db/writeup"),
                        ("REDIS_URL", "redis://:changeme@127.0.0.1:6379/0")):
        env = {"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", **PRODUCTION, name: value}
        r = manage("check", DJANGO_SECRET_KEY=key, **env)
        assert r.returncode != 0 and f"{name} uses the default password" in r.stderr, r.stderr[-500:]


@pytest.mark.parametrize("name, value, refusal", [
    ("WRITEUP_TRUSTED_PROXIES", "haproxy.local", "WRITEUP_TRUSTED_PROXIES"),
    ("WRITEUP_SITE_URL", "https://writeup.example/app?x=1", "WRITEUP_SITE_URL must be an origin"),
    ("WRITEUP_LOG_FORMAT", "xml", "WRITEUP_LOG_FORMAT must be json or plain"),
    ("WRITEUP_METRICS_ALLOWED", "10.0.0.0/33", "WRITEUP_METRICS_ALLOWED"),
])
def test_bad_setting_is_refused(tmp_path, name, value, refusal):
    r = manage("check", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", **{name: value})
    assert r.returncode != 0 and refusal in r.stderr
