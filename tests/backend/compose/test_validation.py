"""Every bad message gets its own error code and a sentence; the socket stays usable."""
import json

import pytest

from tests.backend.conftest import assert_silent, collect, communicator, generate, open_socket, receive, registry_with_ports
from tests.support.services import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def gen(**fields):
    return json.dumps({"type": "generate", "id": "x", "model": "tiny-gpt2", "prompt": "hi", **fields})


def params(**p):
    return gen(params=p)


CASES = [
    ("not json", "invalid_json", None),
    ("[1, 2]", "invalid_json", None),
    ('"just a string"', "invalid_json", None),
    (json.dumps({"type": "dance", "id": "x"}), "unknown_type", "x"),
    (json.dumps({"id": "x"}), "unknown_type", "x"),
    (json.dumps({"type": "generate", "model": "tiny-gpt2", "prompt": "hi"}), "invalid_request", None),
    (json.dumps({"type": "generate", "id": 5, "model": "tiny-gpt2", "prompt": "hi"}), "invalid_request", None),
    (json.dumps({"type": "generate", "id": "x" * 65, "model": "tiny-gpt2", "prompt": "hi"}), "invalid_request", None),
    (gen(model="no-such-model"), "unknown_model", "x"),
    (gen(model=7), "invalid_request", "x"),
    (gen(prompt=None), "invalid_request", "x"),
    (gen(prompt="a" * 4001), "prompt_too_long", "x"),
    (gen(params=[1]), "invalid_request", "x"),
    (params(max_tokens=0), "invalid_request", "x"),
    (params(max_tokens=65), "invalid_request", "x"),
    (params(max_tokens="5"), "invalid_request", "x"),
    (params(temperature=2.5), "invalid_request", "x"),
    (params(temperature=True), "invalid_request", "x"),
    (params(top_k=-1), "invalid_request", "x"),
    (params(top_p=0), "invalid_request", "x"),
    (params(top_p=1.5), "invalid_request", "x"),
    (params(n=5), "invalid_request", "x"),
    (params(stop=["a"] * 5), "invalid_request", "x"),
    (params(stop=[""]), "invalid_request", "x"),
    (params(seed=-1), "invalid_request", "x"),
    (params(temprature=0.5), "invalid_request", "x"),  # a typo is refused, not ignored
    (gen(document=["not", "an", "id"]), "invalid_request", "x"),
    (json.dumps({"type": "cancel"}), "invalid_request", None),
    (json.dumps({"type": "cancel", "id": "nothing-in-flight"}), "unknown_request", "nothing-in-flight"),
    (json.dumps({"type": "watch"}), "invalid_request", None),
    (json.dumps({"type": "watch", "document": "not-a-uuid"}), "invalid_request", None),
    (json.dumps({"type": "watch", "document": "8a0e4b9c-1f7a-4c55-9d7e-2f3b6c1d0e99"}), "forbidden", None),
]


async def test_every_bad_message_gets_its_code_and_the_socket_stays_usable(microservice, settings):
    settings.WRITEUP_UPSTREAM = microservice.url
    comm = await open_socket()
    for raw, code, rid in CASES:
        await comm.send_to(text_data=raw)
        reply = await receive(comm)
        assert reply["type"] == "error", (raw[:80], reply)
        assert (reply["code"], reply["id"]) == (code, rid), (raw[:80], reply)
        assert isinstance(reply["message"], str) and reply["message"].endswith(".")
    # Binary frames: JSON in UTF-8 is fine, anything else is invalid_json.
    await comm.send_to(bytes_data=b"\xff\xfe")
    assert (await receive(comm))["code"] == "invalid_json"
    await comm.send_to(bytes_data=json.dumps(generate("bin", max_tokens=2)).encode())
    _, finals, _ = await collect(comm, {"bin": 1})
    assert finals["bin"][0]["type"] == "done"
    await assert_silent(comm)
    await comm.disconnect(timeout=5)


async def test_message_too_large(microservice, settings):
    settings.WRITEUP_UPSTREAM = microservice.url
    settings.COMPOSE_MAX_MESSAGE_BYTES = 1000
    comm = await open_socket()
    await comm.send_to(text_data=gen(prompt="é" * 600))  # 600 characters, 1200 bytes
    reply = await receive(comm)
    assert (reply["code"], reply["id"]) == ("message_too_large", None)
    await comm.send_to(text_data=json.dumps(generate("ok", max_tokens=2)))
    _, finals, _ = await collect(comm, {"ok": 1})
    assert finals["ok"][0]["type"] == "done"
    await comm.disconnect(timeout=5)


async def test_rate_limited(microservice, settings):
    settings.WRITEUP_UPSTREAM = microservice.url
    settings.COMPOSE_MESSAGES_PER_SECOND = 1
    settings.COMPOSE_BURST = 3
    comm = await open_socket()
    for n in range(5):
        await comm.send_json_to({"type": "cancel", "id": f"c{n}"})
    codes = [(await receive(comm))["code"] for _ in range(5)]
    assert codes == ["unknown_request"] * 3 + ["rate_limited"] * 2
    await comm.disconnect(timeout=5)


async def test_rate_limited_reply_names_the_request(microservice, settings):
    settings.WRITEUP_UPSTREAM = microservice.url
    settings.COMPOSE_MESSAGES_PER_SECOND = 0.01
    settings.COMPOSE_BURST = 1
    comm = await open_socket()
    await comm.send_json_to({"type": "cancel", "id": "first"})
    await comm.send_json_to(generate("second"))
    assert (await receive(comm))["code"] == "unknown_request"
    reply = await receive(comm)
    assert (reply["code"], reply["id"]) == ("rate_limited", "second")
    await comm.disconnect(timeout=5)


async def test_too_many_requests(microservice, settings):
    settings.WRITEUP_UPSTREAM = microservice.url
    settings.COMPOSE_MAX_CONCURRENT = 2
    settings.COMPOSE_BUDGET_ANON_SEQUENCES = 16  # the per-socket cap is under test, not the writer's budget
    settings.COMPOSE_BUDGET_ANON_TOKENS = 4096
    comm = await open_socket()
    long = {"max_tokens": 64, "n": 4, "temperature": 1.0}
    await comm.send_json_to(generate("a", **long))
    await comm.send_json_to(generate("b", **long))
    await comm.send_json_to(generate("c", **long))
    # Replacing a request in flight is not a new one, so it is not refused.
    await comm.send_json_to(generate("a", **long))
    refused = None
    while refused is None:
        m = await receive(comm)
        if m["type"] == "error":
            refused = m
    assert (refused["code"], refused["id"]) == ("too_many_requests", "c")
    for rid in ("a", "b"):
        await comm.send_json_to({"type": "cancel", "id": rid})
    _, finals, _ = await collect(comm, {"a": 4, "b": 4})
    assert all(f["finish_reason"] == "cancelled" for f in finals["a"] + finals["b"])
    await comm.disconnect(timeout=5)


async def test_a_route_nobody_serves_is_model_unavailable(settings, tmp_path, tiny_registry):
    import yaml

    path = registry_with_ports(tiny_registry, tmp_path, {})
    data = yaml.safe_load(path.read_text())
    data["instances"] = [i for i in data["instances"] if "tiny-llama" not in i["routes"]]
    path.write_text(yaml.safe_dump(data))
    settings.WRITEUP_REGISTRY = path
    settings.WRITEUP_UPSTREAM = ""
    comm = await open_socket()
    await comm.send_json_to(generate("a", model="tiny-llama"))
    reply = await receive(comm)
    assert (reply["code"], reply["id"]) == ("model_unavailable", "a")
    assert "Tiny Llama" in reply["message"]
    await comm.disconnect(timeout=5)


async def test_sync_unavailable_when_redis_is_down_but_composing_works(microservice, settings):
    from rest_framework.test import APIClient
    from asgiref.sync import sync_to_async

    settings.WRITEUP_UPSTREAM = microservice.url
    client = APIClient()
    doc = (await sync_to_async(client.post)("/api/documents/", {"body": "x"}, format="json")).json()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]},
        }
    }
    comm = await open_socket({"sessionid": client.cookies["sessionid"].value})
    await comm.send_json_to({"type": "watch", "document": doc["id"]})
    reply = await receive(comm, timeout=15)
    assert (reply["code"], reply["document"]) == ("sync_unavailable", doc["id"])
    await comm.send_json_to(generate("a", max_tokens=2))
    _, finals, _ = await collect(comm, {"a": 1})
    assert finals["a"][0]["type"] == "done"
    await comm.disconnect(timeout=5)


@pytest.mark.parametrize(
    "origin, host, allowed",
    [
        (b"http://localhost", None, True),  # the site URL
        (b"http://localhost:8000", b"localhost:8000", True),  # the page's own origin
        (b"http://127.0.0.1:8000", b"127.0.0.1:8000", True),
        (b"http://localhost:9999", b"localhost:8000", False),  # another port of the same host
        (b"https://localhost:8000", b"localhost:8000", False),  # another scheme
        (b"http://localhost:8000", None, False),  # not the site URL, and no Host to be its own
        (b"https://evil.example", None, False),
        (b"http://localhost.evil.example", None, False),
        (b"null", None, False),
        (None, None, False),
    ],
)
async def test_only_the_apps_own_origins_may_connect(origin, host, allowed):
    comm = communicator(origin=origin, host=host)
    connected, _ = await comm.connect(timeout=10)
    assert connected is allowed
    if connected:
        await comm.disconnect(timeout=5)


async def test_a_malformed_message_over_the_rate_is_refused_for_the_rate(microservice, settings):
    # The rate is checked first, so a flood is refused as such whatever it
    # carries (before the compose errors shared one class, this answered
    # invalid_json).
    settings.WRITEUP_UPSTREAM = microservice.url
    settings.COMPOSE_MESSAGES_PER_SECOND = 0.01
    settings.COMPOSE_BURST = 1
    comm = await open_socket()
    await comm.send_json_to({"type": "cancel", "id": "first"})
    await comm.send_to(text_data="not json")
    assert (await receive(comm))["code"] == "unknown_request"
    reply = await receive(comm)
    assert (reply["code"], reply["id"]) == ("rate_limited", None)
    await comm.disconnect(timeout=5)
