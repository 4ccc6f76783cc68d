"""Compose tests run the relay against real tiny-model microservices,
reached directly through a registry that names their actual ports."""
import asyncio
import json

import pytest

from tests.backend.conftest import registry_with_ports
from tests.support.services import free_port, start_microservice


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


@pytest.fixture(autouse=True)
def budget_redis(settings, redis_server):
    """Writers' budgets in a Redis database of their own, empty for each test."""
    import redis as redis_sync

    from backend.compose import budget

    url = f"redis://127.0.0.1:{redis_server.port}/2"
    settings.COMPOSE_BUDGET_REDIS_URL = url
    redis_sync.Redis.from_url(url).flushdb()
    budget._down_until = 0.0  # a test that stopped Redis must not leave budgets off
    yield url
    budget._down_until = 0.0


class RecordingUpstream:
    """A real WebSocket server in the model tier's place that records every
    frame and answers only when told: requests stay in flight as long as a
    test needs, whatever the machine's speed."""

    def __init__(self):
        self.frames: asyncio.Queue = asyncio.Queue()
        self.server = None
        self.port = None

    async def start(self):
        from websockets.asyncio.server import serve

        self.server = await serve(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, ws):
        async for raw in ws:
            await self.frames.put((ws, json.loads(raw)))

    async def next(self, timeout: float = 10) -> tuple:
        """The next frame: (connection, message)."""
        return await asyncio.wait_for(self.frames.get(), timeout)

    async def nothing(self, seconds: float = 0.3) -> None:
        try:
            ws, message = await asyncio.wait_for(self.frames.get(), seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected upstream frame {message}")

    async def stop(self):
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def recorder(settings, tmp_path, tiny_registry):
    """The backend's only tiny-gpt2 instance is a RecordingUpstream."""
    upstream = await RecordingUpstream().start()
    settings.WRITEUP_UPSTREAM = ""
    settings.WRITEUP_REGISTRY = registry_with_ports(
        tiny_registry, tmp_path, {"tiny-gpt2-1": upstream.port, "tiny-gpt2-2": free_port()}
    )
    yield upstream
    await upstream.stop()
