"""A PostgreSQL cluster of the one-machine stack's own (`scripts/start
--postgres`), in var/postgres, on loopback, run by supervisord like the rest.

The cluster trusts connections from 127.0.0.1 only, as Redis does: on one
machine the database is reachable by local users alone. To use a server of
your own instead, set DATABASE_URL and leave --postgres off.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
from pathlib import Path

HOST = "127.0.0.1"
DATABASE = "writeup"


def server_bin() -> Path | None:
    """Debian keeps the server binaries in /usr/lib/postgresql/<version>/bin."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def _as_user() -> list[str]:
    # The server refuses to run as root; Debian's package brings a `postgres` user.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def url(port: int) -> str:
    return f"postgres://postgres@{HOST}:{port}/{DATABASE}"


def command(var_dir: Path, port: int) -> str:
    """The server in the foreground, for supervisord."""
    q, data = shlex.quote, Path(var_dir) / "postgres"
    argv = [*_as_user(), str(server_bin() / "postgres"), "-D", str(data / "data"), "-p", str(port),
            "-c", f"listen_addresses={HOST}", "-c", f"unix_socket_directories={data}"]
    return " ".join(q(a) for a in argv)


def ensure_cluster(var_dir: Path) -> None:
    """initdb var/postgres/data once (owned by `postgres` when we are root)."""
    data = Path(var_dir) / "postgres"
    if (data / "data" / "PG_VERSION").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    if _as_user():
        shutil.chown(data, "postgres", "postgres")
    subprocess.run([*_as_user(), str(server_bin() / "initdb"), "-D", str(data / "data"), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True, cwd=data)


@contextlib.contextmanager
def running(var_dir: Path, port: int):
    """The cluster up for a moment (to create the database and migrate before
    supervisord takes over), stopped again on exit."""
    data = Path(var_dir) / "postgres"
    ctl = [*_as_user(), str(server_bin() / "pg_ctl"), "-D", str(data / "data"), "-w", "-t", "60"]
    opts = f"-p {port} -c listen_addresses={HOST} -c unix_socket_directories={data}"
    subprocess.run([*ctl, "-o", opts, "-l", str(data / "startup.log"), "start"], check=True, capture_output=True,
                   cwd=data)
    try:
        psql = [*_as_user(), str(server_bin() / "psql"), "-X", "-q", "-A", "-t", "-h", HOST,
                "-p", str(port), "-U", "postgres", "-d", "postgres"]
        exists = subprocess.run([*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"],
                                check=True, capture_output=True, text=True, cwd=data).stdout.strip()
        if not exists:
            subprocess.run([*psql, "-c", f"CREATE DATABASE {DATABASE}"], check=True, capture_output=True, cwd=data)
        yield
    finally:
        subprocess.run([*ctl, "-m", "fast", "stop"], capture_output=True, cwd=data)
