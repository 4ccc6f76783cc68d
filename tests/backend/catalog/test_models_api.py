"""GET /api/models/: the registry's routes with live availability."""
import pytest
from rest_framework.test import APIClient

from backend.catalog import selectors
from tests.backend.conftest import registry_with_ports
from tests.support.services import free_port

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
    # A route whose weights are not on disk says so, rather than "not reachable".
    assert models["missing"]["available"] is False and "no model files" in models["missing"]["reason"]


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
