"""The OpenAI endpoint never buffers more than 256 KiB of body: refused from
Content-Length before reading, and by counting a chunked body as it streams."""
import httpx

from contract import protocol


def test_a_declared_oversized_body_is_refused(microservice):
    # daphne (Twisted) receives a whole request before the app runs, so this
    # cannot show that the app stops early; the Content-Length check does
    # that under servers that stream bodies. The answer is the same.
    r = httpx.post(f"{microservice.url}/tiny-gpt2/v1/completions", timeout=60,
                   content=b"{" + b" " * (protocol.MAX_MESSAGE_BYTES + 1) + b"}",
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "message_too_large"


def test_a_chunked_body_is_counted_as_it_streams(microservice):
    def chunks():
        yield b'{"model": "tiny-gpt2", "prompt": "'
        for _ in range(protocol.MAX_MESSAGE_BYTES // 65536 + 2):
            yield b"a" * 65536
        yield b'"}'

    r = httpx.post(f"{microservice.url}/tiny-gpt2/v1/completions", content=chunks(), timeout=60)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "message_too_large" and r.json()["error"]["type"] == "invalid_request_error"


def test_a_body_within_the_limit_still_works(microservice):
    r = httpx.post(f"{microservice.url}/tiny-gpt2/v1/completions", timeout=60,
                   json={"model": "tiny-gpt2", "prompt": "x" * 1000, "max_tokens": 2})
    assert r.status_code == 200, r.text
