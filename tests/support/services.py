"""Real services for tests, on free loopback ports: microservice instances
and Redis as subprocesses, each stopped (and reaped) by the test that owns it."""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


# Ports come from below the kernel's ephemeral range (32768+ by default): a port the
# kernel hands out for `bind(0)` can be taken by any outgoing connection before the
# service under test binds it, which made stack tests fail with "port in use".
_PORTS = range(20000, 32000)
_given: set[int] = set()
_rng = random.Random()


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free loopback ports not handed out before."""
    for _ in range(2000):
        base = _rng.randrange(_PORTS.start, _PORTS.stop - count)
        block = range(base, base + count)
        if not _given.intersection(block) and all(_bindable(p) for p in block):
            _given.update(block)
            return base
    raise RuntimeError(f"no {count} consecutive free ports in {_PORTS}")


def free_port() -> int:
    return free_port_block(1)


def wait_until(check, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail}")
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout} s")


class Service:
    def __init__(self, name: str, args: list[str], ready, env: dict | None = None, log_dir: Path | None = None):
        self.name, self.args, self.ready = name, args, ready
        self.env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        self.log = Path(log_dir or "/tmp") / f"writeup-test-{name}-{os.getpid()}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> "Service":
        self.proc = subprocess.Popen(self.args, cwd=REPO, env=self.env, stdout=self.log.open("ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self.ready, timeout, self.name, self.proc, self.log)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def restart(self, timeout: float = 120) -> "Service":
        self.stop()
        return self.start(timeout)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Microservice(Service):
    def __init__(self, registry_path: Path, instance_id: str, port: int | None = None, env: dict | None = None,
                 route: str | None = None, extra_args: list[str] | None = None):
        import yaml

        data = yaml.safe_load(Path(registry_path).read_text())
        inst = next(i for i in data["instances"] if i["id"] == instance_id)
        self.port = port or free_port()
        self.route = route or inst["routes"][0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/{self.route}/ws"
        args = [sys.executable, "-m", "microservices.server", "--instance", instance_id, "--registry",
                str(registry_path), "--host", "127.0.0.1", "--port", str(self.port), "--threads", "1",
                *(extra_args or [])]
        super().__init__(f"ms-{instance_id}-{self.port}", args, self._healthy, env)

    def _healthy(self) -> bool:
        return httpx.get(f"{self.url}/{self.route}/health", timeout=2).status_code == 200

    def metric(self, name: str, **labels) -> float:
        """Current value of one sample from /metrics (0 when absent)."""
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
        return 0.0


def start_microservice(registry_path: Path, instance_id: str, port: int | None = None, **kw) -> Microservice:
    return Microservice(registry_path, instance_id, port, **kw).start()


class Redis(Service):
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        super().__init__(f"redis-{self.port}", args, self._ping)

    def _ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")


def start_redis(port: int | None = None) -> Redis:
    return Redis(port).start(timeout=20)


class Postgres(Service):
    """A throwaway PostgreSQL cluster (Debian's server binaries) on a free
    loopback port, trust authentication for the `postgres` role. Run as the
    `postgres` user when the tests run as root: the server refuses root."""

    def __init__(self, port: int | None = None):
        import shutil
        import tempfile

        self.port = port or free_port()
        self.bin = _postgres_bin()
        # Not under pytest's tmp dirs: those are private to root, and the server may run as `postgres`.
        self.datadir = Path(tempfile.mkdtemp(prefix="writeup-pg-"))
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.datadir, "postgres", "postgres")
        self._run(["initdb", "-D", str(self.datadir / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8"])
        # fsync and friends off: a test cluster that a crash loses is fine, and it is much faster.
        args = [*self.as_user, str(self.bin / "postgres"), "-D", str(self.datadir / "data"), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.datadir}",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=200"]
        super().__init__(f"postgres-{self.port}", args, self._ready)

    def _run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_user, str(self.bin / argv[0]), *argv[1:]], check=True, capture_output=True,
                              text=True, timeout=120, cwd=self.datadir, **kw)

    def _ready(self) -> bool:
        return self._run(["pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]).returncode == 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        return self._run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                          "-p", str(self.port), "-U", "postgres", "-d", dbname, "-c", sql]).stdout.strip()

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        import shutil

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # "fast" shutdown: clients are disconnected
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        shutil.rmtree(self.datadir, ignore_errors=True)


def _postgres_bin() -> Path:
    """Debian keeps the server binaries in /usr/lib/postgresql/<version>/bin."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found; run scripts/setup (Debian package postgresql)")
    return found[-1].parent


_shared_postgres: Postgres | None = None


def shared_postgres() -> Postgres:
    """One PostgreSQL server for the whole test run, started on first use and
    stopped when the run ends; each user creates its own database in it."""
    global _shared_postgres
    if _shared_postgres is None:
        import atexit

        _shared_postgres = Postgres().start(timeout=60)
        atexit.register(_shared_postgres.stop)
    return _shared_postgres


def database_under_test() -> str:
    """Which database server the backend tests run on: `sqlite` (default) or
    `postgres` (WRITEUP_TEST_DATABASE=postgres, scripts/test's second pass)."""
    which = os.environ.get("WRITEUP_TEST_DATABASE", "sqlite")
    if which not in ("sqlite", "postgres"):
        raise RuntimeError(f"WRITEUP_TEST_DATABASE={which!r}: use sqlite or postgres")
    return which
