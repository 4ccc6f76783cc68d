"""The microservice's ASGI app: `WS /<route>/ws`, `GET /<route>/health`,
`GET /<route>/info`, `GET /metrics`. Thin: it validates messages and hands
them to the engine; the engine's events go straight back to the socket."""
from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from contract import protocol

from ..engine.engine import Busy, OverQuota, Request
from . import openai_api
from .service import Service

log = logging.getLogger("writeup.server")
MAX_INFLIGHT_PER_SOCKET = 16
HEALTH_TIMEOUT_S = 10.0


def create_app(service: Service) -> Starlette:
    engine = service.engine

    def unknown_route(route: str) -> JSONResponse:
        return JSONResponse({"code": "unknown_model", "message": f"This instance does not serve {route[:64]!r}.",
                             "routes": sorted(service.models)}, status_code=404)

    async def health(request):
        route = request.path_params["route"]
        if route not in service.models:
            return unknown_route(route)
        body = {"route": route, "instance": service.instance_id, "device": str(engine.device)}
        if engine.warming:
            return JSONResponse({**body, "status": "starting",
                                 "message": "Compiling the decode step (about a minute the first time)."}, 503)
        try:
            ok = await asyncio.wait_for(asyncio.wrap_future(engine.probe()), HEALTH_TIMEOUT_S)
        except asyncio.TimeoutError:
            return JSONResponse({**body, "status": "stalled", "message": "The engine did not answer a probe in time."}, 503)
        except Exception as e:  # noqa: BLE001
            ok, body["message"] = False, f"{type(e).__name__}: {e}"[:300]
        fault = _injected_fault()
        if fault == "fatal":
            engine.fatal = RuntimeError("injected device error (WRITEUP_FAULT_FILE)")
        if engine.fatal is not None or fault:
            # A broken device does not heal; exit so the supervisor restarts us.
            exit_task = BackgroundTask(_exit_soon) if engine.fatal is not None else None
            return JSONResponse({**body, "status": "failed", "message": body.get("message", "device error")}, 503,
                                background=exit_task)
        if not ok:
            return JSONResponse({**body, "status": "failed"}, 503)
        return JSONResponse({**body, "status": "ok"})

    async def info(request):
        route = request.path_params["route"]
        m = service.models.get(route)
        if m is None:
            return unknown_route(route)
        return JSONResponse({"route": route, "name": m.name, "genre": m.genre, "instance": service.instance_id,
                             "limits": m.limits.model_dump(), "context": engine.context})

    async def metrics(request):
        return Response(generate_latest(engine.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def compose(ws: WebSocket):
        await ws.accept()
        route = ws.path_params["route"]
        if route not in service.models:
            await ws.send_json(protocol.ProtocolError("unknown_model", f"This instance does not serve {route[:64]!r}.").as_message())
            await ws.close(code=4404)
            return
        await ComposeSocket(ws, service).run()

    return Starlette(routes=[
        *openai_api.routes(service),
        Route("/metrics", metrics),
        Route("/{route}/health", health),
        Route("/{route}/info", info),
        WebSocketRoute("/{route}/ws", compose),
    ])


class ComposeSocket:
    """One client socket: many requests in flight, one writer task."""

    def __init__(self, ws: WebSocket, service: Service):
        self.ws, self.service, self.engine = ws, service, service.engine
        self.inflight: dict[str, tuple[Request, set[int]]] = {}
        self.trace: dict[str, RequestTrace] = {}  # by request id, for the line logged when it ends
        # Requests that name no writer share a cache scope with this socket only.
        self.default_writer = "socket:" + secrets.token_hex(8)
        self.out: asyncio.Queue = asyncio.Queue()
        self.loop = asyncio.get_running_loop()

    async def run(self) -> None:
        writer = asyncio.create_task(self._write())
        try:
            while True:
                raw = await self.ws.receive()
                if raw["type"] == "websocket.disconnect":
                    break
                self._handle(raw.get("text") if raw.get("text") is not None else raw.get("bytes"))
        except WebSocketDisconnect:
            pass
        finally:
            for req, _ in self.inflight.values():
                self.engine.cancel(req)
            writer.cancel()

    def _handle(self, raw) -> None:
        try:
            if isinstance(raw, bytes):
                raw = raw.decode("utf-8")
            msg = protocol.parse(protocol.decode(raw), self.service.limits_for)
        except UnicodeDecodeError:
            return self._reply(protocol.ProtocolError("invalid_json", "The message is not valid UTF-8 JSON."))
        except protocol.ProtocolError as e:
            return self._reply(e)
        if isinstance(msg, protocol.Cancel):
            entry = self.inflight.get(msg.id)
            if entry is None:
                return self._reply(protocol.ProtocolError("unknown_request", f"No request {msg.id!r} is in flight.", msg.id))
            return self.engine.cancel(entry[0])
        if msg.id in self.inflight:
            return self._reply(protocol.ProtocolError("duplicate_id", f"Request {msg.id!r} is already in flight; cancel it or use a new id.", msg.id))
        if len(self.inflight) >= MAX_INFLIGHT_PER_SOCKET:
            return self._reply(protocol.ProtocolError("too_many_requests", f"At most {MAX_INFLIGHT_PER_SOCKET} requests may be in flight on one socket.", msg.id))
        prewarm = isinstance(msg, protocol.Prewarm)
        req = Request(id=msg.id, route=msg.model, prompt=msg.prompt, adapter=self.engine.routes[msg.model],
                      writer=msg.writer or self.default_writer, prewarm=prewarm, emit=self._emit,
                      **({} if prewarm else {"params": msg.params}))
        try:
            self.engine.submit(req)
        except Busy:
            return self._reply(protocol.ProtocolError("busy", "The model is serving as many requests as it can; retry in a moment.", msg.id))
        except OverQuota:
            return self._reply(protocol.ProtocolError(
                "over_quota", f"This writer already has {self.engine.writer_max_queue} requests waiting; "
                "wait for one to finish or cancel one.", msg.id))
        self.inflight[msg.id] = (req, set(range(req.n)))
        self.trace[msg.id] = RequestTrace(route=msg.model, submitted=req.submitted)

    def _reply(self, error: protocol.ProtocolError) -> None:
        self.out.put_nowait((False, error.as_message()))

    def _emit(self, event) -> None:  # engine thread
        self.loop.call_soon_threadsafe(self.out.put_nowait, (True, event.to_wire()))

    async def _write(self) -> None:
        while True:
            from_engine, event = await self.out.get()
            # Only the engine's own events end a request: a protocol error about
            # a duplicate id must not forget the original request.
            entry = self.inflight.get(event.get("id")) if from_engine else None
            if entry is not None:
                trace = self.trace.get(event["id"])
                if trace is not None:
                    trace.saw(event)
            if entry is not None and event["type"] in ("done", "error"):
                open_idx = entry[1]
                open_idx.discard(event.get("index"))
                if event["type"] == "error" or not open_idx:
                    del self.inflight[event["id"]]
                    trace = self.trace.pop(event["id"], None)
                    if trace is not None:
                        trace.log(event["id"])
            try:
                await self.ws.send_json(event)
            except Exception:  # the client is gone; run() cancels the rest
                return


class RequestTrace:
    """What the one log line per request says when it ends: its id (the
    relay's upstream id, `u<n>`, which the backend logged with the editor's
    id), route, tokens, outcome and time to first token as this socket saw it."""

    def __init__(self, route: str, submitted: float):
        self.route, self.submitted = route, submitted
        self.ttft: float | None = None
        self.usage: dict = {}
        self.outcomes: list[str] = []

    def saw(self, event: dict) -> None:
        kind = event["type"]
        if kind == "token" and self.ttft is None:
            self.ttft = time.perf_counter() - self.submitted
        elif kind == "done":
            self.outcomes.append(event.get("finish_reason", ""))
            self.usage = event.get("usage") or self.usage
        elif kind == "error":
            self.outcomes.append("error:" + str(event.get("code")))

    def log(self, request_id: str) -> None:
        # Alternatives usually end alike; name each distinct ending once, in order.
        outcome = ",".join(dict.fromkeys(self.outcomes))
        log.info("request %s on %s ended: %s", request_id, self.route, outcome, extra={
            "request_id": request_id, "route": self.route, "outcome": outcome,
            "prompt_tokens": self.usage.get("prompt_tokens"), "cached_tokens": self.usage.get("cached_tokens"),
            "completion_tokens": self.usage.get("completion_tokens"),
            "ttft_s": None if self.ttft is None else round(self.ttft, 4),
        })


def _injected_fault() -> str | None:
    """Fault injection for tests and drills: while the file named by
    WRITEUP_FAULT_FILE exists, health fails; if it says `fatal`, the instance
    behaves as after a CUDA error (503, then exit for the supervisor)."""
    path = os.environ.get("WRITEUP_FAULT_FILE")
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return "fatal" if f.read(16).strip() == "fatal" else "unhealthy"


async def _exit_soon():
    await asyncio.sleep(0.2)
    logging.getLogger("writeup.server").error("device error: exiting so the supervisor restarts this instance")
    os._exit(3)
