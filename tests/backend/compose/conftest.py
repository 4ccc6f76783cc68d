"""Compose tests run the relay against real tiny-model microservices,
reached directly through a registry that names their actual ports."""
import asyncio

import pytest

from tests.backend.conftest import registry_with_ports
from tests.support.services import start_microservice


@pytest.fixture(scope="module")
def llama_service(tiny_registry):
    ms = start_microservice(tiny_registry, "tiny-llama-1")
    yield ms
    ms.stop()


@pytest.fixture
def direct(settings, tmp_path, tiny_registry, microservice):
    """The backend connects straight to the registry's instances (no load balancer)."""
    settings.WRITEUP_UPSTREAM = ""
    settings.WRITEUP_REGISTRY = registry_with_ports(tiny_registry, tmp_path, {"tiny-gpt2-1": microservice.port})
    return microservice


async def metric(service, name: str, **labels) -> float:
    return await asyncio.to_thread(service.metric, name, **labels)


async def wait_for_metric(service, name: str, want: float, timeout: float = 20, **labels) -> float:
    async with asyncio.timeout(timeout):
        while True:
            value = await metric(service, name, **labels)
            if value == want:
                return value
            await asyncio.sleep(0.05)
