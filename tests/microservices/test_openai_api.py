"""The OpenAI-compatible API, driven by the official `openai` client against a
real microservice."""
import asyncio
import json

import httpx
import openai
import pytest
import websockets

from tests.support.services import start_microservice


@pytest.fixture(scope="module")
def client(microservice):
    return openai.OpenAI(base_url=f"{microservice.url}/tiny-gpt2/v1", api_key="unused", max_retries=0)


def test_models_list(client):
    assert [m.id for m in client.models.list().data] == ["tiny-gpt2"]


def test_completion_with_usage(client):
    r = client.completions.create(model="tiny-gpt2", prompt="Once upon a time", max_tokens=8, temperature=0)
    assert r.object == "text_completion" and len(r.choices) == 1
    assert r.choices[0].finish_reason == "length" and r.choices[0].text
    assert r.usage.completion_tokens == 8 and r.usage.total_tokens == r.usage.prompt_tokens + 8


def test_list_of_prompts_and_n(client):
    r = client.completions.create(model="tiny-gpt2", prompt=["Hello", "The sea"], max_tokens=5, n=2,
                                  temperature=1.0, seed=3)
    assert [c.index for c in r.choices] == [0, 1, 2, 3]
    assert r.usage.completion_tokens == 20


def test_streaming(client):
    chunks = list(client.completions.create(model="tiny-gpt2", prompt="Once upon a time", max_tokens=10,
                                            temperature=0, stream=True))
    texts = [c.choices[0].text for c in chunks if c.choices]
    assert len(texts) >= 5 and chunks[-1].choices[0].finish_reason == "length"
    full = client.completions.create(model="tiny-gpt2", prompt="Once upon a time", max_tokens=10, temperature=0)
    assert "".join(texts) == full.choices[0].text


def test_stop_strings(client):
    full = client.completions.create(model="tiny-gpt2", prompt="Once upon a time", max_tokens=30, temperature=0).choices[0].text
    stop = full[10:13]
    r = client.completions.create(model="tiny-gpt2", prompt="Once upon a time", max_tokens=30, temperature=0, stop=[stop])
    assert r.choices[0].finish_reason == "stop" and r.choices[0].text == full[:full.index(stop)]


async def test_greedy_text_equals_the_websocket_protocol(client, microservice):
    api = client.completions.create(model="tiny-gpt2", prompt="The ship", max_tokens=12, temperature=0).choices[0].text
    text = ""
    async with websockets.connect(microservice.ws_url) as ws:
        await ws.send(json.dumps({"type": "generate", "id": "g", "model": "tiny-gpt2", "prompt": "The ship",
                                  "params": {"max_tokens": 12, "temperature": 0}}))
        while True:
            m = json.loads(await ws.recv())
            if m["type"] == "done":
                break
            text += m["text"]
    assert text == api


def test_error_classes(client, microservice):
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="tiny-gpt2", prompt="x", max_tokens=10_000)
    assert e.value.body["param"] == "max_tokens"
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model="tiny-gpt2", prompt="x", temperature=3)
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model="tiny-gpt2", prompt="x", logprobs=2)
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="gpt-4", prompt="x")
    r = httpx.post(f"{microservice.url}/v1/completions", content=b"{nope")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_busy_is_rate_limit_error(tiny_registry):
    ms = start_microservice(tiny_registry, "tiny-gpt2-2")
    try:
        c = openai.OpenAI(base_url=f"{ms.url}/v1", api_key="x", max_retries=0, timeout=120)
        # 16 prompts x 4 alternatives overflow an 8-slot batch and a 16-deep queue.
        with pytest.raises(openai.RateLimitError):
            for _ in range(3):
                c.completions.create(model="tiny-gpt2", prompt=["a"] * 16, n=4, max_tokens=64, stream=True).close()
    finally:
        ms.stop()


async def test_closing_a_stream_frees_its_slot(microservice):
    ac = openai.AsyncOpenAI(base_url=f"{microservice.url}/v1", api_key="x", max_retries=0)
    before = microservice.metric("writeup_requests_total", route="tiny-gpt2", outcome="cancelled")
    stream = await ac.completions.create(model="tiny-gpt2", prompt="Once upon a time", max_tokens=64, stream=True)
    async for _ in stream:
        break
    await stream.close()
    for _ in range(100):
        if microservice.metric("writeup_active_sequences", route="tiny-gpt2") == 0:
            break
        await asyncio.sleep(0.05)
    assert microservice.metric("writeup_active_sequences", route="tiny-gpt2") == 0
    assert microservice.metric("writeup_requests_total", route="tiny-gpt2", outcome="cancelled") == before + 1
    await ac.close()


def test_bearer_keys_when_configured(tiny_registry):
    ms = start_microservice(tiny_registry, "tiny-gpt2-2", env={"WRITEUP_API_KEYS": "k1,k2"})
    try:
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{ms.url}/v1", api_key="wrong", max_retries=0).models.list()
        ok = openai.OpenAI(base_url=f"{ms.url}/v1", api_key="k2", max_retries=0)
        assert ok.completions.create(model="tiny-gpt2", prompt="Hi", max_tokens=2).choices
    finally:
        ms.stop()
