"""Inputs the fuzzers found, kept as fixed cases.

- `[[[[...` a few kilobytes deep: json.loads raised RecursionError, which the
  microservice did not catch (socket closed with 1011, its streams lost) and
  the backend answered with internal_error; the OpenAI route answered 500.
- JSON escapes of lone surrogates ("\\ud800") decode to strings UTF-8 cannot
  carry. In a prompt, the tokenizer raised inside the engine loop: the request
  was never answered and every other request in the batch failed with
  internal_error. In an id, the error reply naming it could not be sent.
- `top_p` of 1e-300 passes validation (it is above 0) but is 0 in float32:
  sampling zeroed every probability, and the engine step failed for every
  request in the batch (internal_error).
"""
import json

import httpx
import pytest
from websockets.sync.client import connect

from microservices.engine.engine import Request
from contract.sampling_params import SamplingParams
from tests.fuzz.messages import BACKEND_CODES, MICROSERVICE_CODES, exchange
from tests.microservices.conftest import Collector, make_engine

DEEP = "[" * 50_000
SURROGATE = "\ud800"


def gen(rid="x", **fields) -> str:
    msg = {"type": "generate", "id": rid, "model": "tiny-gpt2", "prompt": "hi", "params": {"max_tokens": 2}, **fields}
    return json.dumps(msg)  # ASCII: the surrogate travels as the \ud800 escape


CASES = [
    (DEEP, "invalid_json", None),
    (gen(prompt=f"once {SURROGATE} upon"), "invalid_request", "x"),
    (gen(rid=SURROGATE), "invalid_request", None),
    (gen(model=SURROGATE), "invalid_request", "x"),
    (gen(params={"stop": [SURROGATE]}), "invalid_request", "x"),
    (gen(document=SURROGATE), "invalid_request", "x"),
    (json.dumps({"type": SURROGATE, "id": "x"}), "unknown_type", "x"),
    (json.dumps({"type": "cancel", "id": SURROGATE}), "invalid_request", None),
]


@pytest.mark.parametrize("endpoint", ["microservice", "backend"])
def test_found_inputs_get_their_codes_on_both_sockets(endpoint, microservice, fuzz_backend):
    if endpoint == "microservice":
        ws, codes = connect(microservice.ws_url, open_timeout=15, max_size=None), MICROSERVICE_CODES
    else:
        ws = connect(fuzz_backend.ws_url, origin=fuzz_backend.origin, open_timeout=15, max_size=None)
        codes = BACKEND_CODES
    with ws:
        for frame, code, rid in CASES:
            (reply,) = exchange(ws, frame, codes)
            assert (reply["type"], reply["code"], reply["id"]) == ("error", code, rid), (frame[:60], reply)


@pytest.mark.parametrize("endpoint", ["microservice", "backend"])
def test_a_vanishing_top_p_still_samples(endpoint, microservice, fuzz_backend):
    if endpoint == "microservice":
        ws, codes = connect(microservice.ws_url, open_timeout=15), MICROSERVICE_CODES
    else:
        ws, codes = connect(fuzz_backend.ws_url, origin=fuzz_backend.origin, open_timeout=15), BACKEND_CODES
    with ws:
        replies = exchange(ws, gen(params={"max_tokens": 3, "top_p": 1e-300, "n": 2, "temperature": 1.5}), codes)
    assert sorted((m["type"], m["index"]) for m in replies if m["type"] != "token") == [("done", 0), ("done", 1)]


def test_found_inputs_on_the_openai_route(microservice):
    url = f"{microservice.url}/v1/completions"
    r = httpx.post(url, content=DEEP, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    body = '{"model": "tiny-gpt2", "prompt": "a\\ud800b", "max_tokens": 2}'
    r = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["param"] == "prompt"
    r = httpx.post(url, content='{"model": "tiny-gpt2", "\\udc00": 1}', timeout=30)
    assert r.status_code == 400 and r.json()["error"]["param"] == "\udc00"


def test_a_prompt_the_tokenizer_refuses_fails_alone(tiny_registry):
    """Past the protocol's checks (e.g. a future caller of the engine), one
    unreadable prompt must not take the batch down with it."""
    engine = make_engine(tiny_registry.parent / "tiny-gpt2", max_batch=4)
    try:
        c = Collector(engine)
        ok = c.request("ok", "Once upon a time", max_tokens=32, temperature=0)
        bad = Request(id="bad", route="tiny", prompt=f"a{SURROGATE}b", params=SamplingParams(max_tokens=4),
                      emit=lambda ev: c.events.put(ev.to_wire()), adapter=0)
        engine.submit(bad)
        out = c.collect([ok, bad])
        assert out["bad"]["error"]["code"] == "invalid_request"
        assert out["ok"]["error"] is None and out["ok"]["finish"] == ["length"]
    finally:
        engine.stop()
