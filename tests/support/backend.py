"""A real backend for tests: daphne serving backend.asgi on a free loopback
port, with its own SQLite file (or PostgreSQL database, see
tests.support.services.database_under_test), so it can be killed and restarted like a
production process (the in-process test client cannot be)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.services import REPO, Service, database_under_test, free_port, shared_postgres


class Backend(Service):
    def __init__(self, workdir: Path, registry: Path, *, upstream: str = "", redis_url: str | None = None,
                 port: int | None = None, env: dict | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/compose/"
        self.origin = self.url
        self.db = Path(workdir) / f"backend-{self.port}.sqlite3"
        if database_under_test() == "postgres":
            # Its own database in the run's PostgreSQL server (WRITEUP_TEST_DATABASE=postgres).
            database_url = shared_postgres().create_database(f"backend_{self.port}")
        else:
            database_url = f"sqlite:///{self.db}"
        backend_env = {
            "DJANGO_SETTINGS_MODULE": "backend.settings",
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": database_url,
            # A Redis nobody listens on unless the test gives one: sync is then unavailable, composing is not.
            "REDIS_URL": redis_url or f"redis://127.0.0.1:{free_port()}/0",
            "WRITEUP_REGISTRY": str(registry),
            "WRITEUP_UPSTREAM": upstream,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "backend.asgi:application"]
        super().__init__(f"backend-{self.port}", args, self._answers, backend_env)
        self._migrated = False

    def _answers(self) -> bool:
        return httpx.get(f"{self.url}/api/health/", timeout=2).status_code == 200

    def start(self, timeout: float = 120) -> "Backend":
        if not self._migrated:
            subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=self.env,
                           check=True, timeout=120)
            self._migrated = True
        super().start(timeout)
        return self

    def client(self) -> httpx.Client:
        """A browser-like REST client: a session, and its CSRF token on every write."""
        http = httpx.Client(base_url=self.url, timeout=30, trust_env=False)
        http.headers["X-CSRFToken"] = http.get("/api/session/").json()["csrf"]
        return http


def cookie_header(http: httpx.Client) -> dict[str, str]:
    """The client's cookies as a socket handshake header, so the socket is the same writer."""
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in http.cookies.items())}
