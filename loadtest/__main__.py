"""python -m loadtest: simulated writers against a stack on this machine.

    # through the whole stack (backend /ws/compose/, HAProxy, microservices)
    .venv/bin/python -m loadtest --url http://127.0.0.1:8000 --writers 4 --duration 60
    # straight at HAProxy's (or one microservice's) route socket
    .venv/bin/python -m loadtest --ws ws://127.0.0.1:8080/smollm2/ws --writers 4
    # capacity search: stages of 1, 2, 4, 8 writers, stopping at the first that fails
    .venv/bin/python -m loadtest --url http://127.0.0.1:8000 --writers 1,2,4,8 --duration 60
    # capacity table for short and long drafts
    .venv/bin/python -m loadtest --url http://127.0.0.1:8000 --capacity --duration 120

Drafts are 1,000-3,000 words by default (`--drafts long`); `--drafts short`
is 40-120 words, `--draft-words FILE` draws from real drafts' word counts.

Exit status: 0 every stage met the thresholds (or, with --capacity, the
table was measured), 1 a stage missed one, 2 the target or an option could
not be used at all.
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import random
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from . import prose
from .drafts import DraftError, DraftLengths, from_file, preset
from .report import HEADER, Recorder, Thresholds, capacity_table, details, row, summarize, verdict
from .writer import Behaviour, Target, Writer

MAX_WRITERS = 512
MAX_SECONDS = 1800
CAPACITY_WRITERS = "1,2,4,8,12,16"


class UsageError(Exception):
    pass


def loopback(url: str) -> str:
    """The URL with its host checked to be this machine; `localhost` becomes
    127.0.0.1 so a resolver can never send the load elsewhere."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host == "localhost":
        host = "127.0.0.1"
    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError
    except ValueError:
        raise UsageError(f"{url}: the load test only targets loopback addresses (127.0.0.1, ::1)") from None
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def writer_counts(text: str) -> list[int]:
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--writers: expected a number or a comma-separated list, got {text!r}") from None
    if not counts or any(not 1 <= c <= MAX_WRITERS for c in counts):
        raise UsageError(f"--writers: each count must be 1 to {MAX_WRITERS}")
    return counts


async def resolve_target(args) -> Target:
    if args.ws:
        url = loopback(args.ws)
        if not url.startswith(("ws://", "wss://")):
            raise UsageError("--ws takes a ws:// URL, e.g. ws://127.0.0.1:8080/smollm2/ws")
        path = urlsplit(url).path.strip("/").split("/")
        model = args.model or (path[-2] if len(path) >= 2 and path[-1] == "ws" else None)
        if not model:
            raise UsageError("--model is needed when the socket path is not /<route>/ws")
        return Target(url, model)
    base = loopback(args.url).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise UsageError("--url takes the backend's http:// base URL, e.g. http://127.0.0.1:8000")
    async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
        try:
            models = (await http.get(f"{base}/api/models/")).raise_for_status().json()
        except httpx.HTTPError as e:
            raise UsageError(f"{base}/api/models/ did not answer: {e}") from None
    available = [m["route"] for m in models if m.get("available")]
    model = args.model or (available[0] if available else None)
    if model is None:
        raise UsageError(f"no model is available at {base} ({[(m['route'], m.get('reason')) for m in models]})")
    if model not in available:
        print(f"warning: {model} is not reported available by the backend", file=sys.stderr)
    # The editor cuts the prompt at the model's limit; so do the writers.
    limits = next((m.get("limits") or {} for m in models if m["route"] == model), {})
    ws = "wss" if base.startswith("https") else "ws"
    return Target(f"{ws}{base[base.index(':'):]}/ws/compose/", model, origin=base,
                  http_url=base if args.documents else None, max_prompt_chars=limits.get("max_prompt_chars"))


async def stage(target: Target, behaviour: Behaviour, writers: int, warmup: float, duration: float,
                seed: int, drafts: DraftLengths | None = None, corpus: list[str] | None = None) -> tuple[dict, Recorder]:
    loop = asyncio.get_running_loop()
    rec = Recorder()
    start = loop.time()
    rec.since = start + warmup
    stop_at = rec.since + duration

    async def one(i: int):
        # Stagger the start over the warm-up so the writers are out of step, as real ones are.
        await asyncio.sleep(warmup * i / writers)
        # Text from its own generator, so the text does not shift when behaviour options change.
        words = prose.Prose(random.Random(f"{seed}:{i}:prose"), corpus)
        await Writer(i, target, behaviour, rec, random.Random(seed * 7919 + i), drafts, words).run(stop_at)

    await asyncio.gather(*(one(i) for i in range(writers)))
    return summarize(rec, writers, loop.time() - rec.since), rec


def draft_distributions(args) -> list[DraftLengths]:
    """The draft-length distributions to run: one, or short and long for --capacity."""
    try:
        if args.draft_words:
            return [from_file(args.draft_words)]
        if args.capacity and args.drafts is None:
            return [preset("short"), preset("long")]
        return [preset(args.drafts or "long")]
    except DraftError as e:
        raise UsageError(str(e)) from None


async def run_stages(args, target, behaviour, thresholds, counts, drafts, corpus) -> list[dict]:
    print(f"drafts: {drafts.describe()}", flush=True)
    print(HEADER, flush=True)
    results = []
    for writers in counts:
        summary, rec = await stage(target, behaviour, writers, args.warmup, args.duration, args.seed, drafts, corpus)
        missed = verdict(summary, thresholds)
        results.append({**summary, "drafts": drafts.name, "missed": missed})
        print(row(summary, missed), flush=True)
        for line in details(summary):
            print(f"        {line}", flush=True)
        for line in missed:
            print(f"        - {line}", flush=True)
        if rec.connect_failures and rec.last_failure:
            print(f"        ({rec.connect_failures} failed connections; last: {rec.last_failure})", flush=True)
        if missed and not args.keep_going:
            break
    return results


async def main_async(args) -> int:
    counts = writer_counts(args.writers or (CAPACITY_WRITERS if args.capacity else "4"))
    if not 1 <= args.duration <= MAX_SECONDS or not 0 <= args.warmup <= MAX_SECONDS:
        raise UsageError(f"--duration and --warmup are bounded to {MAX_SECONDS} s")
    if not 0 <= args.open_pause <= 60:
        raise UsageError("--open-pause is 0 to 60 seconds: the pause comes within seconds of opening")
    if not (args.draft_seconds == 0 or 5 <= args.draft_seconds <= MAX_SECONDS):
        raise UsageError(f"--draft-seconds is 0 (one draft per writer) or 5 to {MAX_SECONDS} seconds")
    distributions = draft_distributions(args)
    try:
        corpus = prose.load_corpus(args.corpus) if args.corpus else None
    except ValueError as e:
        raise UsageError(str(e)) from None
    target = await resolve_target(args)
    behaviour = Behaviour(
        max_tokens=args.max_tokens, n=args.n, temperature=args.temperature, words_per_minute=args.wpm,
        debounce=args.debounce, type_over=args.type_over, replace=args.replace, accept=args.accept,
        prompt_chars=args.prompt_chars, request_timeout=args.request_timeout,
        autosave_every=args.autosave_every, open_pause=args.open_pause, draft_seconds=args.draft_seconds,
        prewarm=args.prewarm,
    )
    thresholds = Thresholds(p90_ttft=args.max_p90_ttft, error_rate=args.max_error_rate, p99_itl=args.max_p99_itl,
                            p90_first_ttft=args.max_p90_first_ttft)
    print(f"target {target.ws_url} model {target.model}; {args.warmup:g} s warm-up + {args.duration:g} s per stage; "
          f"max_tokens {behaviour.max_tokens}, n {behaviour.n}, {behaviour.words_per_minute:g} wpm; "
          f"first pause {behaviour.open_pause:g} s after opening; prewarm {'on' if behaviour.prewarm else 'off'}; "
          f"text: {'corpus ' + args.corpus if corpus else 'generated'}", flush=True)
    runs = []
    for drafts in distributions:
        runs.append((drafts.describe(), await run_stages(args, target, behaviour, thresholds, counts, drafts, corpus)))
    results = [s for _, stages in runs for s in stages]
    if args.capacity:
        print(f"\ncapacity: {target.model}, gate p90 TTFT <= {thresholds.p90_ttft:g} s (first suggestions included), "
              f"error rate <= {thresholds.error_rate:g}", flush=True)
        for line in capacity_table(runs):
            print(line, flush=True)
    elif len(counts) > 1:
        passing = [r["writers"] for r in results if not r["missed"]]
        print(f"largest passing stage: {max(passing) if passing else 'none'} writers", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "target": target.ws_url, "model": target.model, "behaviour": behaviour.__dict__,
            "thresholds": thresholds.__dict__, "drafts": [name for name, _ in runs], "stages": results},
            indent=2, default=list))
    # A capacity run measures: failing stages are its findings, not a failed gate.
    return 0 if args.capacity else (1 if any(r["missed"] for r in results) else 0)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="the backend's base URL (writers use /ws/compose/ and the drafts API)")
    where.add_argument("--ws", help="a route socket to hit directly: HAProxy's or one microservice's /<route>/ws")
    ap.add_argument("--model", help="route to ask (default: the backend's first available; with --ws, from the path)")
    ap.add_argument("--writers", help="concurrent writers, or a comma list of stages "
                    f"(default 4; with --capacity {CAPACITY_WRITERS})")
    ap.add_argument("--capacity", action="store_true",
                    help="run the writer stages for short and long drafts (or the given ones) and print a capacity "
                         "table; exits 0 whatever the stages' verdicts")
    lengths = ap.add_mutually_exclusive_group()
    lengths.add_argument("--drafts", choices=("short", "long"),
                         help="draft lengths: long = 1,000-3,000 words (default), short = 40-120 words")
    lengths.add_argument("--draft-words", metavar="FILE",
                         help="draw draft lengths from existing drafts: one word count a line (# comments allowed)")
    ap.add_argument("--corpus", metavar="FILE",
                    help="plain-text prose the drafts are cut from (default: generated, seeded English sentences)")
    ap.add_argument("--duration", type=float, default=60, help="measured seconds per stage (default 60)")
    ap.add_argument("--warmup", type=float, default=10, help="unmeasured seconds while writers join (default 10)")
    ap.add_argument("--keep-going", action="store_true", help="run every stage even after one fails")
    b = Behaviour()
    ap.add_argument("--max-tokens", type=int, default=b.max_tokens, help=f"suggestion length (default {b.max_tokens})")
    ap.add_argument("--n", type=int, default=b.n, help=f"alternatives per suggestion (default {b.n})")
    ap.add_argument("--temperature", type=float, default=b.temperature)
    ap.add_argument("--wpm", type=float, default=b.words_per_minute, help=f"typing speed (default {b.words_per_minute:g})")
    ap.add_argument("--debounce", type=float, default=b.debounce, help=f"pause before asking, s (default {b.debounce})")
    ap.add_argument("--type-over", type=float, default=b.type_over,
                    help=f"chance a writer types on while a suggestion streams (default {b.type_over})")
    ap.add_argument("--replace", type=float, default=b.replace,
                    help=f"share of type-overs sent as a new generate under the same id (backend; default {b.replace})")
    ap.add_argument("--accept", type=float, default=b.accept, help=f"chance a suggestion is taken (default {b.accept})")
    ap.add_argument("--prompt-chars", type=int, default=b.prompt_chars,
                    help=f"tail of the draft sent as the prompt (default {b.prompt_chars})")
    ap.add_argument("--request-timeout", type=float, default=b.request_timeout,
                    help=f"a stream with no end after this many seconds counts as an error (default {b.request_timeout:g})")
    ap.add_argument("--autosave-every", type=float, default=b.autosave_every,
                    help=f"seconds between autosaves of each draft; 0 = never (default {b.autosave_every:g})")
    ap.add_argument("--open-pause", type=float, default=b.open_pause,
                    help=f"seconds from opening a draft to the pause that asks for the first suggestion (default {b.open_pause:g})")
    ap.add_argument("--draft-seconds", type=float, default=b.draft_seconds,
                    help=f"time on one draft (x 0.5-1.5) before opening another; 0 = one draft (default {b.draft_seconds:g})")
    ap.add_argument("--no-prewarm", dest="prewarm", action="store_false",
                    help="do not send `prewarm` on opening and while typing (the editor sends it)")
    ap.add_argument("--no-documents", dest="documents", action="store_false",
                    help="backend: no drafts (no REST traffic, no document affinity)")
    ap.add_argument("--max-p90-ttft", type=float, default=1.0,
                    help="gate: p90 time to first token of all suggestions, first ones included, s (default 1)")
    ap.add_argument("--max-p90-first-ttft", type=float, default=None,
                    help="gate: p90 time to first token of first suggestions after opening, s (default off)")
    ap.add_argument("--max-error-rate", type=float, default=0.01, help="gate: failed / finished streams (default 0.01)")
    ap.add_argument("--max-p99-itl", type=float, default=None, help="gate: p99 inter-token latency, s (default off)")
    ap.add_argument("--seed", type=int, default=1, help="writers' random choices, draft lengths and text (default 1)")
    ap.add_argument("--json", help="also write the results to this file")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(main_async(args))
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
