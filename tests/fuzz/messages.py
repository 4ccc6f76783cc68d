"""Hostile compose messages (Hypothesis strategies) and the property every
reply must have: each frame gets a well-formed answer (an error with a
documented code, or the stream of an accepted request) on a socket that
stays open."""
from __future__ import annotations

import itertools
import json
import math

from hypothesis import currently_in_test_context, event
from hypothesis import strategies as st

from contract import protocol

# docs/protocol.md. `internal_error` is deliberately absent: a fuzzer that
# provokes it has found a bug.
MICROSERVICE_CODES = {"invalid_json", "message_too_large", "unknown_type", "invalid_request", "duplicate_id",
                      "unknown_model", "prompt_too_long", "unknown_request", "busy", "too_many_requests"}
BACKEND_CODES = MICROSERVICE_CODES | {"rate_limited", "model_unavailable", "timeout", "forbidden", "sync_unavailable",
                                     "over_quota"}
FINISH_REASONS = {"length", "stop", "cancelled"}

# Text a socket can carry (no lone surrogates) and text only JSON escapes can:
# "\ud800" is valid JSON that decodes to a string UTF-8 cannot encode.
sendable = st.text(st.characters(codec="utf-8"), max_size=40)
wild = st.text(max_size=40)
heavy = st.text(st.characters(min_codepoint=0x80, codec="utf-8"), max_size=300)  # accents, CJK, emoji, RTL, ...

leaves = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | wild)
json_values = st.recursive(leaves, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(wild, kids, max_size=3),
                           max_leaves=8)


def mostly(valid):
    """Usually a plausible value, sometimes any JSON at all (or any text)."""
    return st.one_of(valid, valid, valid, valid, json_values, wild)


# A request the server must accept: short, so accepted examples stay quick.
ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=64)
good_params = st.fixed_dictionaries({}, optional={
    "max_tokens": st.integers(1, 12),
    "temperature": st.floats(0, 2),
    "top_k": st.integers(0, 1000),
    "top_p": st.floats(0, 1, exclude_min=True),
    "n": st.integers(1, 4),
    "stop": st.lists(st.text(st.characters(codec="utf-8"), min_size=1, max_size=64), max_size=4),
    "seed": st.integers(0, 2**63 - 1) | st.none(),
})
good_prompts = st.one_of(sendable, heavy)  # accents, CJK, emoji, RTL, control characters
good = st.fixed_dictionaries(
    {"type": st.just("generate"), "id": ids, "model": st.just("tiny-gpt2"), "prompt": good_prompts},
    optional={"params": good_params, "document": st.uuids().map(str)},
)

# Parameters that are mostly out of range or of the wrong type.
bad_params = st.fixed_dictionaries({}, optional={
    "max_tokens": mostly(st.integers(-1, 70)),
    "temperature": mostly(st.floats(-0.5, 2.5) | st.sampled_from([math.nan, math.inf, -math.inf])),
    "top_k": mostly(st.integers(-1, 1001)),
    "top_p": mostly(st.floats(-0.1, 1.1)),
    "n": mostly(st.integers(0, 5)),
    "stop": mostly(st.lists(wild, max_size=5) | wild),
    "seed": mostly(st.integers(-1, 2**64)),
})

FIELDS = ["type", "id", "model", "prompt", "params", "document", "params.temprature"]
odd_values = st.one_of(json_values, wild, st.sampled_from(["cancel", "watch", "unwatch", "token", "done"]),
                       st.integers(3990, 4010).map(lambda n: "é" * n), st.text(max_size=70))


@st.composite
def one_field_broken(draw):
    """A good request with one field dropped or replaced: each check alone."""
    msg = dict(draw(good))
    field = draw(st.sampled_from(FIELDS))
    if field == "params.temprature":  # a typo must be refused, not ignored
        msg["params"] = {**msg.get("params", {}), "temprature": draw(json_values)}
    elif draw(st.booleans()):
        msg.pop(field, None)
    else:
        msg[field] = draw(odd_values)
    return msg


with_bad_params = st.builds(lambda m, p: {**m, "params": p}, good, bad_params)
anything = st.fixed_dictionaries({}, optional={f: json_values for f in FIELDS})


def _oversized(size: int) -> str:
    return json.dumps({"type": "generate", "id": "big", "model": "tiny-gpt2", "prompt": "a" * size})


def weighted(*choices):
    """One of the strategies, picked with the given weights."""
    return st.sampled_from([strategy for weight, strategy in choices for _ in range(weight)]).flatmap(lambda s: s)


structured = weighted((2, good), (3, with_bad_params), (4, one_field_broken()), (1, anything))
as_json = structured.map(json.dumps)  # ASCII-escaped: surrogates and all travel as \u escapes
frames = weighted(
    (12, as_json),
    (2, as_json.map(str.encode)),  # the same as a binary frame
    (1, json_values.map(json.dumps)),
    (1, sendable),  # not JSON at all
    (1, st.binary(max_size=64)),
    (1, st.integers(1, 300).map(lambda depth: "[" * depth * 100)),  # nesting past the decoder's stack
    (1, st.integers(-64, 64).map(lambda d: _oversized(protocol.MAX_MESSAGE_BYTES - 70 + d))),  # around the size limit
)


def check_reply(m, codes: set[str], extra_types: set[str] = frozenset()) -> None:
    assert isinstance(m, dict), m
    kind = m.get("type")
    if kind == "token":
        assert isinstance(m["id"], str) and isinstance(m["index"], int) and isinstance(m["text"], str), m
    elif kind == "done":
        assert isinstance(m["id"], str) and isinstance(m["index"], int) and m["finish_reason"] in FINISH_REASONS, m
    elif kind == "error":
        assert m["code"] in codes, m
        assert isinstance(m["message"], str) and m["message"], m
        assert m["id"] is None or isinstance(m["id"], str), m
    else:
        assert kind in extra_types, m


_sentinels = itertools.count()


def _note(what: str) -> None:
    """Tally for --hypothesis-show-statistics, so a run shows what it reached."""
    if currently_in_test_context():
        event(what)


def exchange(ws, frame, codes: set[str], extra_types: set[str] = frozenset(), timeout: float = 60) -> list[dict]:
    """Send one frame on a sync websocket and return every reply to it,
    checking each. A cancel of an id nobody uses follows the frame: its
    `unknown_request` marks where the replies to the frame must have begun."""
    sentinel = f"~sentinel-{next(_sentinels)}"
    ws.send(frame)
    ws.send(json.dumps({"type": "cancel", "id": sentinel}))
    replies, ended = [], False
    while not ended:
        raw = ws.recv(timeout=timeout)
        assert isinstance(raw, str), "replies are text frames"
        m = json.loads(raw)
        check_reply(m, codes, extra_types)
        if m.get("id") == sentinel:
            assert (m["type"], m["code"]) == ("error", "unknown_request"), m
            ended = True
        else:
            replies.append(m)
    try:
        msg = json.loads(frame)
    except (ValueError, RecursionError):
        msg = None
    sent_id = msg.get("id") if isinstance(msg, dict) else None
    for m in replies:
        if m["type"] == "error":
            # An error names the request it is about, or nothing.
            assert m["id"] is None or m["id"] == sent_id, (m, frame)
    if any(m["type"] == "error" for m in replies) or any(m["type"] not in ("token", "done") for m in replies):
        _note("refused: " + ", ".join(sorted({m.get("code") or m["type"] for m in replies if m["type"] != "token"})))
        return replies
    # No refusal: the frame was a request the server took on. Only a
    # generate (which streams) or an unwatch (which is silent) can be that.
    assert isinstance(msg, dict) and msg.get("type") in ("generate", "unwatch"), (frame, replies)
    _note(f"accepted: {msg['type']}")
    if msg["type"] == "unwatch":
        return replies
    n = (msg.get("params") or {}).get("n", 1)
    done = sum(1 for m in replies if m["type"] == "done")
    while done < n:
        m = json.loads(ws.recv(timeout=timeout))
        check_reply(m, codes, extra_types)
        assert m["id"] == sent_id, (m, frame)
        replies.append(m)
        if m["type"] == "error":
            break
        done += m["type"] == "done"
    return replies
