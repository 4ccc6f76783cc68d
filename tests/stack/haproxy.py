"""A real HAProxy for tests, configured by stack.haproxy_config on free ports."""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import httpx

from contract.registry import load
from stack import haproxy_config
from tests.support.services import Service, free_port


class HAProxy(Service):
    def __init__(self, registry_path: Path, instances: list[dict], workdir: Path):
        self.port, self.stats_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stats_url = f"http://127.0.0.1:{self.stats_port}/stats"
        self.config = Path(workdir) / f"haproxy-{self.port}.cfg"
        self.config.write_text(haproxy_config.render(
            load(registry_path), instances=instances, port=self.port, stats_port=self.stats_port,
            stats_socket=str(Path(workdir) / f"haproxy-{self.port}.sock"), log_target="stdout format raw local0",
        ))
        super().__init__(f"haproxy-{self.port}", ["haproxy", "-db", "-f", str(self.config)], self._stats_up)

    def _stats_up(self) -> bool:
        return httpx.get(self.stats_url, timeout=2).status_code == 200

    def servers(self) -> dict[tuple[str, str], str]:
        """(pool, server) -> status as HAProxy sees it (UP, DOWN, ...)."""
        text = httpx.get(self.stats_url + ";csv", timeout=5).text.lstrip("# ")
        return {(r["pxname"], r["svname"]): r["status"] for r in csv.DictReader(io.StringIO(text))
                if r["svname"] not in ("FRONTEND", "BACKEND")}

    def wait_status(self, pool: str, server: str, want: str, timeout: float = 30) -> float:
        """Seconds until HAProxy reports `server` of `pool` as `want`."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.servers().get((pool, server)) == want:
                return time.monotonic() - t0
            time.sleep(0.2)
        raise TimeoutError(f"{pool}/{server} not {want} after {timeout} s: {self.servers()}")
