"""OpenAI-compatible completions on top of the same engine and limits.

`GET /v1/models`, `POST /v1/completions` (also under `/<route>/v1/...`, so the
path-routed load balancer sends them to the right pool). Requests join the
same queue and batches as WebSocket clients; there is no second generation
path. Errors use OpenAI's shape and statuses so the official clients raise
their matching exceptions."""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import os
import time
import uuid

from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from contract import protocol

from ..engine.engine import Busy, OverQuota, Request
from ..engine.events import Done, Error, Token
from .service import Service

# OpenAI parameters we accept only at their neutral values.
NEUTRAL = {"echo": False, "logprobs": None, "best_of": None, "suffix": None, "presence_penalty": 0,
           "frequency_penalty": 0, "logit_bias": None, "stream_options": None}
KNOWN = {"model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "n", "stop", "seed", "stream", "user", *NEUTRAL}
MAX_PROMPTS = 16


class ApiError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def response(self) -> Response:
        # ASCII-escaped: a message or param may echo a lone surrogate, which UTF-8 cannot carry.
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        return Response(json.dumps(body), status_code=self.status, media_type="application/json")


def api_keys() -> list[str]:
    return [k for k in os.environ.get("WRITEUP_API_KEYS", "").split(",") if k.strip()]


def check_auth(request: HttpRequest) -> str:
    """The caller's API key ("" when keys are off); 401 when it is wrong."""
    keys = api_keys()
    if not keys:  # off by default: the microservice listens on loopback behind the LB
        return ""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not any(hmac.compare_digest(token, k.strip()) for k in keys):
        raise ApiError(401, "Missing or invalid API key; send 'Authorization: Bearer <key>'.",
                       "invalid_request_error", code="invalid_api_key")
    return token


def writer_key(api_key: str, user) -> str:
    """The cache scope and fair-share key of an API caller: its key, and
    within it the body's `user`, so end users of one key never share a cache."""
    user = user if isinstance(user, str) else ""
    return "api:" + hashlib.sha256(f"{api_key}\0{user}".encode()).hexdigest()[:32]


def routes(service: Service) -> list[Route]:
    engine = service.engine

    async def models(request: HttpRequest):
        try:
            check_auth(request)
        except ApiError as e:
            return e.response()
        return JSONResponse({"object": "list", "data": [
            {"id": r, "object": "model", "created": 0, "owned_by": "writeup", "name": m.name, "genre": m.genre}
            for r, m in service.models.items()]})

    async def completions(request: HttpRequest):
        try:
            key = check_auth(request)
            body = await _body(request)
            reqs, stream, include_usage = _requests(body, service)
        except ApiError as e:
            return e.response()
        writer = writer_key(key, body.get("user"))
        queue: asyncio.Queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        submitted = []
        try:
            for i, kw in enumerate(reqs):
                req = Request(id=str(i), emit=lambda ev: loop.call_soon_threadsafe(queue.put_nowait, ev),
                              writer=writer, **kw)
                engine.submit(req)
                submitted.append(req)
        except (Busy, OverQuota) as e:
            for req in submitted:
                engine.cancel(req)
            if isinstance(e, OverQuota):
                return ApiError(429, f"This API key (or user) already has {engine.writer_max_queue} requests waiting; "
                                "wait for some to finish.", "rate_limit_exceeded", code="over_quota").response()
            return ApiError(429, "The model is serving as many requests as it can; retry in a moment.",
                            "rate_limit_exceeded", code="busy").response()
        meta = {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
                "model": body["model"]}
        n = reqs[0]["params"].n
        if stream:
            return StreamingResponse(_sse(queue, submitted, engine, meta, n, include_usage),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        collect = asyncio.ensure_future(_collect(queue, len(submitted), n))
        gone = asyncio.ensure_future(_disconnected(request))
        await asyncio.wait([collect, gone], return_when=asyncio.FIRST_COMPLETED)
        if not collect.done():  # the client left: free the engine slots now
            collect.cancel()
            for req in submitted:
                engine.cancel(req)
            return JSONResponse({}, status_code=499)
        gone.cancel()
        choices, usage, error = collect.result()
        if error:
            return ApiError(500, error.message, "server_error", code=error.code).response()
        return JSONResponse({**meta, "choices": choices, "usage": usage})

    return [Route("/v1/models", models), Route("/{route}/v1/models", models),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/{route}/v1/completions", completions, methods=["POST"])]


async def _body(request: HttpRequest) -> dict:
    # Refuse an oversized body before reading it: from Content-Length up
    # front, and by counting while it streams in (chunked bodies have none,
    # and a client may lie), so a client cannot make us buffer more than the limit.
    limit = protocol.MAX_MESSAGE_BYTES
    too_large = ApiError(413, f"Request bodies are limited to {limit} bytes.", code="message_too_large")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiError(400, "Content-Length must be a whole number of bytes.", code="invalid_request")
        if int(declared) > limit:
            raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    return body


def _requests(body: dict, service: Service) -> tuple[list[dict], bool, bool]:
    unknown = sorted(set(body) - KNOWN)
    if unknown:
        raise ApiError(400, f"Unrecognized request argument(s): {', '.join(unknown)[:200]}.", param=unknown[0])
    for key, neutral in NEUTRAL.items():
        if key in body and body[key] not in (neutral, None) and key != "stream_options":
            raise ApiError(400, f"`{key}` is not supported by this server.", param=key)
    model = body.get("model")
    if not isinstance(model, str):
        raise ApiError(400, "`model` is required.", param="model")
    limits = service.limits_for(model)
    if limits is None:
        raise ApiError(404, f"The model `{model[:64]}` does not exist here.", param="model", code="model_not_found")
    prompts = body.get("prompt", "")
    if isinstance(prompts, str):
        prompts = [prompts]
    if (not isinstance(prompts, list) or not 1 <= len(prompts) <= MAX_PROMPTS
            or not all(protocol.is_text(p) for p in prompts)):
        raise ApiError(400, f"`prompt` must be a string or a list of 1 to {MAX_PROMPTS} strings.", param="prompt")
    for p in prompts:
        if len(p) > limits.max_prompt_chars:
            raise ApiError(400, f"The prompt has {len(p)} characters; this model accepts at most {limits.max_prompt_chars}.",
                           param="prompt", code="prompt_too_long")
    # OpenAI's defaults differ from the editor's: 16 tokens, temperature 1, no top-k.
    raw = {"max_tokens": body.get("max_tokens", 16), "temperature": body.get("temperature", 1.0),
           "top_p": body.get("top_p", 1.0), "top_k": body.get("top_k", 0), "n": body.get("n", 1),
           "stop": body.get("stop") or [], "seed": body.get("seed")}
    raw = {k: v for k, v in raw.items() if v is not None}
    try:
        p = protocol.parse_params(raw, limits)
    except protocol.ProtocolError as e:
        raise ApiError(400, e.message, param=e.param) from None
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "`stream` must be a boolean.", param="stream")
    opts = body.get("stream_options") or {}
    include_usage = bool(isinstance(opts, dict) and opts.get("include_usage"))
    # Each prompt is one engine request; seeds differ per prompt so a list
    # of identical prompts does not return identical choices.
    out = []
    for i, prompt in enumerate(prompts):
        pp = p if p.seed is None else dataclasses.replace(p, seed=p.seed + i * p.n)
        out.append({"route": model, "prompt": prompt, "params": pp, "adapter": service.engine.routes[model]})
    return out, stream, include_usage


async def _collect(queue: asyncio.Queue, n_reqs: int, n: int):
    texts = [[""] * n for _ in range(n_reqs)]
    finish = [[None] * n for _ in range(n_reqs)]
    prompt_tokens, completion_tokens = [0] * n_reqs, 0
    left = n_reqs * n
    while left:
        ev = await queue.get()
        r = int(ev.id)
        if isinstance(ev, Token):
            texts[r][ev.index] += ev.text
        elif isinstance(ev, Done):
            finish[r][ev.index] = ev.finish_reason
            prompt_tokens[r] = ev.usage.prompt_tokens
            completion_tokens += ev.usage.completion_tokens
            left -= 1
        else:
            return None, None, ev
    choices = [{"text": texts[r][i], "index": r * n + i, "logprobs": None, "finish_reason": finish[r][i]}
               for r in range(n_reqs) for i in range(n)]
    usage = {"prompt_tokens": sum(prompt_tokens), "completion_tokens": completion_tokens,
             "total_tokens": sum(prompt_tokens) + completion_tokens}
    return choices, usage, None


async def _disconnected(request: HttpRequest) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _sse(queue: asyncio.Queue, reqs: list[Request], engine, meta: dict, n: int, include_usage: bool):
    left = len(reqs) * n
    prompt_tokens, completion_tokens = {}, 0
    try:
        while left:
            ev = await queue.get()
            r = int(ev.id)
            if isinstance(ev, Error):
                yield _event({"error": {"message": ev.message, "type": "server_error", "param": None, "code": ev.code}})
                break
            choice = {"text": ev.text if isinstance(ev, Token) else "", "index": r * n + ev.index, "logprobs": None,
                      "finish_reason": None}
            if isinstance(ev, Done):
                left -= 1
                choice["finish_reason"] = ev.finish_reason
                prompt_tokens[r] = ev.usage.prompt_tokens
                completion_tokens += ev.usage.completion_tokens
            yield _event({**meta, "choices": [choice]})
        if include_usage:
            pt = sum(prompt_tokens.values())
            yield _event({**meta, "choices": [], "usage": {"prompt_tokens": pt, "completion_tokens": completion_tokens,
                                                           "total_tokens": pt + completion_tokens}})
        yield "data: [DONE]\n\n"
    finally:  # normal end, or the client went away mid-stream
        for req in reqs:
            engine.cancel(req)


def _event(obj: dict) -> str:
    return f"data: {json.dumps(obj)}\n\n"
