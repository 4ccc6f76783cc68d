"""Production settings pass Django's deployment checks; a missing secret is refused."""
import os
import subprocess
import sys
from pathlib import Path

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
