"""GET /api/models/: the registry's routes with availability from the model
tier: HAProxy's own health checks (a real HAProxy here), or the routes'
health through the load balancer, or the registry's instances."""
import ast
from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from backend.catalog import selectors
from tests.backend.conftest import registry_with_ports
from tests.stack.haproxy import HAProxy
from tests.support.services import REPO, Microservice, free_port

pytestmark = pytest.mark.django_db


def by_route(response) -> dict:
    assert response.status_code == 200
    return {m["route"]: m for m in response.json()}


def test_models_through_the_load_balancer_route(microservice, settings):
    settings.WRITEUP_UPSTREAM = microservice.url
    models = by_route(APIClient().get("/api/models/"))
    assert set(models) == {"tiny-gpt2", "tiny-llama", "missing"}
    gpt2 = models["tiny-gpt2"]
    assert gpt2 == {
        "route": "tiny-gpt2",
        "name": "Tiny GPT-2",
        "genre": "test",
        "description": "",
        "available": True,
        "reason": "ready",
        "limits": {"max_new_tokens": 64, "max_n": 4, "context": 512, "max_prompt_chars": 4000},
    }
    # The upstream here only serves tiny-gpt2; its health for the others is a 404.
    assert models["tiny-llama"]["available"] is False and "404" in models["tiny-llama"]["reason"]
    assert models["missing"]["available"] is False and "404" in models["missing"]["reason"]


def test_models_straight_from_the_registry_instances(microservice, settings, tmp_path, tiny_registry):
    # tiny-gpt2-1 is down, tiny-gpt2-2 is the running service: one healthy instance is enough.
    settings.WRITEUP_REGISTRY = registry_with_ports(
        tiny_registry, tmp_path, {"tiny-gpt2-1": free_port(), "tiny-gpt2-2": microservice.port, "tiny-llama-1": free_port()}
    )
    models = by_route(APIClient().get("/api/models/"))
    assert models["tiny-gpt2"]["available"] is True
    assert models["tiny-llama"]["available"] is False
    assert "not running" in models["tiny-llama"]["reason"]


def test_health_answers_are_cached_briefly(microservice, settings, monkeypatch):
    settings.WRITEUP_UPSTREAM = microservice.url
    client = APIClient()
    first = by_route(client.get("/api/models/"))

    def no_probe(reg):
        raise AssertionError("probed again within the cache time")

    monkeypatch.setattr(selectors, "_probe_all", no_probe)
    assert by_route(client.get("/api/models/")) == first


@pytest.fixture
def balanced(tiny_registry, tmp_path):
    """A real HAProxy whose tiny-gpt2 pool holds one running instance (with a
    fault file it can be made unhealthy through) and one dead address, and whose
    tiny-llama pool holds only a dead address; `missing` has no server at all."""
    fault = tmp_path / "fault"
    ms = Microservice(tiny_registry, "tiny-gpt2-1", env={"WRITEUP_FAULT_FILE": str(fault)})
    lb = None
    try:
        ms.start()
        instances = [
            {"id": "tiny-gpt2-1", "host": "127.0.0.1", "port": ms.port, "routes": ["tiny-gpt2"]},
            {"id": "tiny-gpt2-2", "host": "127.0.0.1", "port": free_port(), "routes": ["tiny-gpt2"]},
            {"id": "tiny-llama-1", "host": "127.0.0.1", "port": free_port(), "routes": ["tiny-llama"]},
        ]
        lb = HAProxy(tiny_registry, instances, tmp_path).start(timeout=20)
        lb.wait_status("route_tiny-gpt2", "tiny-gpt2-1", "UP")
        lb.wait_status("route_tiny-llama", "tiny-llama-1", "DOWN")
        yield lb, ms, fault
    finally:
        if lb:
            lb.stop()
        ms.stop()


def fresh_models() -> dict:
    cache.clear()  # the answer is cached for a few seconds; each step here wants a new one
    return by_route(APIClient().get("/api/models/"))


def test_availability_follows_haproxys_health_checks(balanced, settings):
    lb, ms, fault = balanced
    settings.WRITEUP_UPSTREAM, settings.WRITEUP_LB_STATS_URL = lb.url, lb.stats_url
    models = fresh_models()
    # One UP server of two is enough.
    assert models["tiny-gpt2"]["available"] is True and models["tiny-gpt2"]["reason"] == "ready"
    llama = models["tiny-llama"]
    assert llama["available"] is False and "Connection refused" in llama["reason"], llama
    assert models["missing"] == {**models["missing"], "available": False, "reason": "No instance serves this model."}

    # The instance reports itself unhealthy (503): the route goes down with that reason ...
    fault.write_text("unhealthy")
    lb.wait_status("route_tiny-gpt2", "tiny-gpt2-1", "DOWN")
    gpt2 = fresh_models()["tiny-gpt2"]
    assert gpt2["available"] is False and "health check answered 503" in gpt2["reason"], gpt2
    # ... and comes back when the instance does, without anyone touching the backend.
    fault.unlink()
    lb.wait_status("route_tiny-gpt2", "tiny-gpt2-1", "UP")
    assert fresh_models()["tiny-gpt2"]["available"] is True

    # A killed instance: down as soon as HAProxy's checks say so.
    ms.kill()
    lb.wait_status("route_tiny-gpt2", "tiny-gpt2-1", "DOWN")
    gpt2 = fresh_models()["tiny-gpt2"]
    assert gpt2["available"] is False and "Connection refused" in gpt2["reason"], gpt2


def test_an_unreachable_stats_page_is_reported_as_such(settings):
    settings.WRITEUP_LB_STATS_URL = f"http://127.0.0.1:{free_port()}/stats"
    models = fresh_models()
    assert {m["available"] for m in models.values()} == {False}
    assert "status page is not answering" in models["tiny-gpt2"]["reason"]


def test_the_backend_never_looks_for_model_files():
    """Weights live on the model hosts; a backend host has none (issue 16)."""
    importers = []
    for path in (REPO / "backend").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, (ast.Import, ast.ImportFrom)) else []
            module = node.module if isinstance(node, ast.ImportFrom) else ""
            if "microservices.weights" in names or module == "microservices.weights" or \
                    (module == "microservices" and "weights" in names):
                importers.append(str(Path(path).relative_to(REPO)))
    assert importers == []
