"""scripts/start --postgres --monitoring: the backend on a PostgreSQL cluster
of the stack's own, and a real Prometheus scraping every instance and HAProxy
with writeup's rules loaded."""
import os
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest

from stack import postgres
from tests.stack.test_start import launch, wait_for
from tests.support.services import REPO, free_port

pytestmark = [
    pytest.mark.skipif(not (REPO / "manage.py").exists(), reason="the backend is not in this checkout"),
    pytest.mark.skipif(postgres.server_bin() is None, reason="PostgreSQL is not installed (scripts/setup)"),
]


@pytest.fixture(scope="module")
def started(tiny_registry):
    # Not under pytest's tmp folders: those are private to root, and the cluster runs as `postgres`.
    var = Path(tempfile.mkdtemp(prefix="writeup-start-")) / "var"
    var.parent.chmod(0o755)
    ports = {"--postgres-port": free_port(), "--prometheus-port": free_port()}
    with launch(tiny_registry, var, "--instances", "tiny-gpt2=1,tiny-llama=0", "--postgres", "--monitoring",
                ports=ports) as stack:
        yield stack
    subprocess.run(["rm", "-rf", str(var.parent)], check=False)


def psql(started, sql: str) -> str:
    port = started["ports"]["--postgres-port"]
    return subprocess.run([str(postgres.server_bin() / "psql"), "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(port),
                           "-U", "postgres", "-d", "writeup", "-c", sql], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_drafts_are_kept_in_the_stacks_postgresql(started):
    assert any("postgres" in line and " up " in line for line in started["output"])
    base = f"http://127.0.0.1:{started['ports']['--port']}"
    with httpx.Client(base_url=base, timeout=10) as client:
        csrf = client.get("/api/session/").json()["csrf"]
        r = client.post("/api/documents/", json={"title": "On PostgreSQL", "body": "Stored where production keeps it."},
                        headers={"X-CSRFToken": csrf})
        assert r.status_code == 201, r.text
    assert psql(started, "SELECT title FROM documents_document") == "On PostgreSQL"


def prometheus_query(started, query: str) -> list[dict]:
    port = started["ports"]["--prometheus-port"]
    answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}, timeout=10).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_prometheus_scrapes_every_target_with_the_rules_loaded(started):
    def all_up():
        results = prometheus_query(started, "up")
        jobs = {r["metric"]["job"]: r["value"][1] for r in results}
        return set(jobs) == {"writeup-microservice", "haproxy", "writeup-backend"} and set(jobs.values()) == {"1"} and results
    wait_for(all_up, 90, "every target up == 1")
    # The TTFT histogram and HAProxy's view of the route's server are queryable.
    wait_for(lambda: prometheus_query(started, "writeup_time_to_first_token_seconds_count"), 60, "TTFT histogram")
    servers = prometheus_query(started, 'haproxy_server_status{proxy="route_tiny-gpt2"} == 1')
    assert {s["metric"]["server"] for s in servers} == {"tiny-gpt2-1"}
    port = started["ports"]["--prometheus-port"]
    groups = httpx.get(f"http://127.0.0.1:{port}/api/v1/rules", timeout=10).json()["data"]["groups"]
    alerts = {r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
    assert {"WriteupInstanceDown", "WriteupRouteDown", "WriteupTTFTHigh", "WriteupErrorRateHigh",
            "WriteupQueueSaturated", "WriteupPrefixCacheCollapsed", "WriteupUpstreamErrors",
            "WriteupBackendUpstreamErrors"} <= alerts
