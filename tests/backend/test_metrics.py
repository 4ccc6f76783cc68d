"""The backend's Prometheus page: answered only to trusted peers that did not
come through a proxy, with HTTP latency (django-prometheus) and writeup's own
counters, which move when the things they count happen."""
import pytest
from django.test import Client
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_answer_a_loopback_peer_with_latency_and_writeup_families():
    assert Client().get("/api/health/").status_code in (200, 503)
    r = Client().get("/metrics")  # the test client's peer is 127.0.0.1
    assert r.status_code == 200 and r["Content-Type"].startswith("text/plain")
    text = r.content.decode()
    for family in ("django_http_requests_latency_seconds_by_view_method_bucket",
                   "# TYPE writeup_backend_compose_requests_in_flight gauge",
                   "# TYPE writeup_backend_upstream_errors_total counter",
                   "# TYPE writeup_backend_autosave_conflicts_total counter"):
        assert family in text, family


@pytest.mark.parametrize("meta", [
    {"REMOTE_ADDR": "203.0.113.7"},  # a public address
    {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"},  # public, through the local proxy
    {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "127.0.0.1"},  # whatever the header claims
])
def test_metrics_are_not_shown_to_anyone_else(meta):
    r = Client().get("/metrics", **meta)
    assert r.status_code == 404 and b"django_http" not in r.content


def test_metrics_allowed_networks_are_a_setting(settings):
    settings.METRICS_ALLOWED_NETWORKS = [__import__("ipaddress").ip_network("10.0.0.0/8")]
    assert Client().get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert Client().get("/metrics").status_code == 404  # loopback is no longer on the list


def test_a_stale_autosave_counts_as_a_conflict():
    client = APIClient()
    doc = client.post("/api/documents/", {"body": "start"}, format="json").json()
    before = sample("writeup_backend_autosave_conflicts_total")
    assert client.patch(f"/api/documents/{doc['id']}/", {"version": 1, "body": "a"}, format="json").status_code == 200
    assert sample("writeup_backend_autosave_conflicts_total") == before
    assert client.patch(f"/api/documents/{doc['id']}/", {"version": 1, "body": "b"}, format="json").status_code == 409
    assert sample("writeup_backend_autosave_conflicts_total") == before + 1
