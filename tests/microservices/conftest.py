from __future__ import annotations

import queue
import time
from pathlib import Path

import pytest

from microservices.engine.engine import Engine, Request
from contract.sampling_params import SamplingParams
from microservices.engine.loader import load_model, load_tokenizer


class Collector:
    """Runs requests on an in-process engine and gathers their events."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.events: queue.SimpleQueue = queue.SimpleQueue()

    def request(self, rid: str, prompt: str, route: str | None = None, writer: str = "", **params) -> Request:
        route = route or next(iter(self.engine.routes))
        req = Request(id=rid, route=route, prompt=prompt, params=SamplingParams(**params),
                      emit=lambda ev: self.events.put(ev.to_wire()), adapter=self.engine.routes[route], writer=writer)
        self.engine.submit(req)
        return req

    def collect(self, reqs: list[Request], timeout: float = 60) -> dict[str, dict]:
        """{id: {"texts": [...], "tokens": [[...]], "finish": [...], "error": msg|None}} once all end."""
        out = {r.id: {"texts": [""] * r.params.n, "pieces": [[] for _ in range(r.params.n)],
                      "finish": [None] * r.params.n, "usage": [None] * r.params.n, "error": None} for r in reqs}
        open_ = {(r.id, i) for r in reqs for i in range(r.params.n)}
        deadline = time.monotonic() + timeout
        while open_:
            ev = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            o = out.get(ev["id"])
            if o is None:
                continue
            if ev["type"] == "token":
                o["texts"][ev["index"]] += ev["text"]
                o["pieces"][ev["index"]].append(ev["text"])
            elif ev["type"] == "done":
                o["finish"][ev["index"]] = ev["finish_reason"]
                o["usage"][ev["index"]] = ev["usage"]
                open_.discard((ev["id"], ev["index"]))
            else:
                o["error"] = ev
                open_ -= {(ev["id"], i) for i in range(len(o["texts"]))}
        return out

    def run(self, rid: str, prompt: str, **params) -> dict:
        return self.collect([self.request(rid, prompt, **params)])[rid]


def make_engine(folder: Path, **kw) -> Engine:
    # Most tests send everything as one writer; fair-share limits are tested on their own.
    kw.setdefault("writer_max_queue", 1024)
    kw.setdefault("writer_max_seqs", kw.get("max_batch", 32))
    model = load_model(folder, "cpu")
    engine = Engine(model, load_tokenizer(folder), routes=kw.pop("routes", {"tiny": 0}), **kw)
    engine.start()
    return engine


@pytest.fixture(scope="session")
def tiny_dir(tiny_registry):
    return tiny_registry.parent


@pytest.fixture
def gpt2_engine(tiny_dir):
    engine = make_engine(tiny_dir / "tiny-gpt2", max_batch=8, max_queue=16, context=512, prefix_cache_mb=0)
    yield engine
    engine.stop()


@pytest.fixture
def llama_engine(tiny_dir):
    engine = make_engine(tiny_dir / "tiny-llama", max_batch=8, max_queue=16, context=512, prefix_cache_mb=0)
    yield engine
    engine.stop()
