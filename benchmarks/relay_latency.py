"""What the backend relay adds to streaming latency.

Starts one microservice and the backend (a real daphne process), then streams
the same requests directly to the microservice and through the backend's
/ws/compose/, interleaved so both paths see the same machine load, and prints
time to first token and inter-token latency side by side (medians over
repeats; the VMs slow down in bursts, so compare paths within one run).

    .venv/bin/python benchmarks/relay_latency.py                  # tiny test model
    .venv/bin/python benchmarks/relay_latency.py --registry config/models.yaml --instance smollm2-1
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import websockets  # noqa: E402
import yaml  # noqa: E402

from tests.support.services import Service, free_port, start_microservice  # noqa: E402


def registry_on_port(registry: Path, instance_id: str, port: int, folder: Path) -> Path:
    data = yaml.safe_load(registry.read_text())
    for inst in data["instances"]:
        if inst["id"] == instance_id:
            inst["port"] = port
    # Relative model paths in the registry are relative to the repository.
    for model in data["models"].values():
        src = model.get("source") or {}
        if src.get("path") and not Path(src["path"]).is_absolute():
            src["path"] = str(REPO / src["path"])
    path = folder / "models.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def start_backend(registry: Path, folder: Path) -> tuple[Service, str]:
    port = free_port()
    env = {
        "WRITEUP_REGISTRY": str(registry),
        "WRITEUP_UPSTREAM": "",
        "DATABASE_URL": f"sqlite:///{folder}/db.sqlite3",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "backend.asgi:application"]

    def ready():
        return httpx.get(f"http://127.0.0.1:{port}/api/schema/", timeout=2).status_code == 200

    return Service(f"backend-{port}", args, ready, env=env).start(timeout=60), f"ws://127.0.0.1:{port}/ws/compose/"


async def stream_once(ws, rid: str, route: str, prompt: str, max_tokens: int) -> tuple[float, list[float]]:
    """One greedy request; returns (time to first token, gaps between tokens) in seconds."""
    msg = {"type": "generate", "id": rid, "model": route, "prompt": prompt,
           "params": {"max_tokens": max_tokens, "temperature": 0}}
    t0 = time.perf_counter()
    await ws.send(json.dumps(msg))
    stamps = []
    while True:
        m = json.loads(await ws.recv())
        if m.get("id") != rid:
            continue
        if m["type"] == "token":
            stamps.append(time.perf_counter())
        elif m["type"] == "done":
            break
        else:
            raise RuntimeError(f"{rid}: {m}")
    if not stamps:
        raise RuntimeError(f"{rid}: no tokens")
    return stamps[0] - t0, [b - a for a, b in zip(stamps, stamps[1:])]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def run(direct_url: str, relay_url: str, route: str, repeats: int, warmup: int, max_tokens: int) -> dict:
    results = {"direct": {"ttft": [], "itl": []}, "backend": {"ttft": [], "itl": []}}
    async with websockets.connect(direct_url, compression=None) as direct, websockets.connect(
        relay_url, compression=None, origin="http://127.0.0.1"
    ) as relay:
        paths = {"direct": direct, "backend": relay}
        for i in range(warmup + repeats):
            # Alternate which path goes first so neither always runs on the warmer cache line.
            order = ["direct", "backend"] if i % 2 == 0 else ["backend", "direct"]
            for name in order:
                prompt = f"Draft {i}: the morning light fell across the desk and"
                ttft, gaps = await stream_once(paths[name], f"{name}-{i}", route, prompt, max_tokens)
                if i >= warmup:
                    results[name]["ttft"].append(ttft)
                    results[name]["itl"].extend(gaps)
    return results


def table(results: dict) -> str:
    rows = [("path", "TTFT p50", "TTFT p90", "ITL p50", "ITL p90", "samples")]
    for name in ("direct", "backend"):
        r = results[name]
        rows.append((name, *(f"{pct(v, q) * 1000:.2f} ms" for v, q in
                             ((r["ttft"], .5), (r["ttft"], .9), (r["itl"], .5), (r["itl"], .9))),
                     f"{len(r['ttft'])}/{len(r['itl'])}"))
    d, b = results["direct"], results["backend"]
    rows.append(("added by relay",
                 f"{(statistics.median(b['ttft']) - statistics.median(d['ttft'])) * 1000:+.2f} ms", "",
                 f"{(statistics.median(b['itl']) - statistics.median(d['itl'])) * 1000:+.2f} ms", "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", type=Path, help="registry file (default: build the tiny test models)")
    ap.add_argument("--instance", default="tiny-gpt2-1", help="instance id to start")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=32)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="writeup-relay-bench-") as tmp:
        tmp = Path(tmp)
        if args.registry is None:
            from tests.support.tiny_models import build_tiny_registry

            print("building the tiny test models...", file=sys.stderr)
            args.registry = build_tiny_registry(tmp / "models")
        port = free_port()
        registry = registry_on_port(args.registry.resolve(), args.instance, port, tmp)
        route = next(i for i in yaml.safe_load(registry.read_text())["instances"] if i["id"] == args.instance)["routes"][0]
        print(f"starting {args.instance} ({route}) and the backend...", file=sys.stderr)
        # No prefix cache: every request pays the same prefill on both paths.
        ms = start_microservice(registry, args.instance, port, extra_args=["--prefix-cache-mb", "0"])
        backend = None
        try:
            backend, relay_url = start_backend(registry, tmp)
            results = asyncio.run(run(ms.ws_url, relay_url, route, args.repeats, args.warmup, args.max_tokens))
        finally:
            if backend is not None:
                backend.stop()
            ms.stop()
    print(f"{route}, {args.repeats} requests per path of {args.max_tokens} greedy tokens, interleaved; "
          f"{os.cpu_count()} CPUs")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
