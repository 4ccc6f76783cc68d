"""Real services for tests, on free loopback ports: microservice instances
and Redis as subprocesses, each stopped (and reaped) by the test that owns it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
