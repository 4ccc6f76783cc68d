"""Both compose sockets under hostile input: a microservice's /<route>/ws and
the backend's /ws/compose/ (real daphne). One socket takes every example, as
a long-lived editor tab would; afterwards a new socket still gets a normal
suggestion."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.fuzz.messages import BACKEND_CODES, MICROSERVICE_CODES, exchange, frames

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
NORMAL = json.dumps({"type": "generate", "id": "normal", "model": "tiny-gpt2", "prompt": "Once upon a time",
                     "params": {"max_tokens": 4, "temperature": 0}})


def microservice_socket(ms):
    return connect(ms.ws_url, open_timeout=15, max_size=None, proxy=None)


def backend_socket(backend):
    return connect(backend.ws_url, origin=backend.origin, open_timeout=15, max_size=None, proxy=None)


def still_serves(open_socket, codes) -> None:
    with open_socket() as ws:
        replies = exchange(ws, NORMAL, codes)
    assert [m["type"] for m in replies][-1] == "done", replies


@pytest.mark.parametrize("endpoint", ["microservice", "backend"])
def test_every_frame_gets_a_well_formed_reply_and_the_server_stays_up(endpoint, microservice, fuzz_backend):
    if endpoint == "microservice":
        open_socket, codes, extra = (lambda: microservice_socket(microservice)), MICROSERVICE_CODES, set()
    else:
        open_socket, codes, extra = (lambda: backend_socket(fuzz_backend)), BACKEND_CODES, {"watching"}

    with open_socket() as ws:
        @FUZZ
        @given(frame=frames)
        def one_frame(frame):
            exchange(ws, frame, codes, extra)

        one_frame()
    still_serves(open_socket, codes)


@pytest.mark.parametrize("endpoint", ["microservice", "backend"])
def test_a_frame_past_the_servers_hard_cap_closes_only_that_socket(endpoint, microservice, fuzz_backend):
    """daphne refuses frames over 1 MiB before any of our code sees them
    (message_too_large covers everything up to that); the socket is closed
    with 1009 and every other writer carries on."""
    open_socket = (lambda: microservice_socket(microservice)) if endpoint == "microservice" else \
        (lambda: backend_socket(fuzz_backend))
    codes = MICROSERVICE_CODES if endpoint == "microservice" else BACKEND_CODES
    with open_socket() as bystander, open_socket() as ws:
        try:
            ws.send("x" * (2 * 1024 * 1024))
            ws.recv(timeout=30)
        except ConnectionClosed:
            pass
        else:
            raise AssertionError("a 2 MiB frame should close the socket")
        replies = exchange(bystander, NORMAL, codes)
        assert replies[-1]["type"] == "done", replies
    still_serves(open_socket, codes)
