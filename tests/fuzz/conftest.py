"""A real backend (daphne) relaying straight to the session's tiny-gpt2
microservice, with the per-socket rate limit lifted so the fuzzers reach
validation instead of `rate_limited`."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.backend import Backend
from tests.support.services import free_port


@pytest.fixture(scope="package")
def fuzz_backend(tiny_registry, microservice, redis_server, tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    data = yaml.safe_load(Path(tiny_registry).read_text())
    for inst in data["instances"]:
        # Only tiny-gpt2-1 runs; the other routes' instances refuse connections.
        inst["port"] = microservice.port if inst["id"] == "tiny-gpt2-1" else free_port()
    registry = work / "models.yaml"
    registry.write_text(yaml.safe_dump(data, sort_keys=False))
    backend = Backend(work, registry, redis_url=redis_server.url,
                      env={"WRITEUP_WS_MESSAGES_PER_SECOND": "100000", "WRITEUP_WS_BURST": "100000",
                           "WRITEUP_WRITE_THROTTLE": "100000/min"})
    backend.start()
    yield backend
    backend.stop()
