"""Session fixtures shared by every part's tests: tiny real models, a real
Redis and a real microservice, each started once and stopped at the end."""
from __future__ import annotations

import pytest

from tests.support.services import start_microservice, start_redis
from tests.support.tiny_models import build_tiny_registry


@pytest.fixture(scope="session")
def tiny_registry(tmp_path_factory):
    return build_tiny_registry(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def redis_server():
    r = start_redis()
    yield r
    r.stop()


@pytest.fixture(scope="session")
def microservice(tiny_registry):
    """A tiny-gpt2 microservice shared by tests that don't kill it."""
    ms = start_microservice(tiny_registry, "tiny-gpt2-1")
    yield ms
    ms.stop()
