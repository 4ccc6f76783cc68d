"""Health of the one-machine stack: waits until every service answers, prints
the URL and a status table, then keeps watching and reports changes.

It runs as the `status` program under the stack's supervisord; when it gives
up (after --timeout seconds without health) it stops the whole stack by
signalling the supervisord named by --stop-stack, then exits 1.

    python -m stack.status var/stack.json [--timeout 300] [--once] [--stop-stack var/supervisord.pid]
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import socket
import sys
import time

import httpx
import redis

READY_LINE = "writeup is ready at"


def _http(url: str, timeout: float = 5.0) -> tuple[bool, str]:
    try:
        r = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as e:
        return False, f"{url}: {type(e).__name__}"
    return r.status_code == 200, f"{r.url.path} {r.status_code}"


def _redis(address: str) -> tuple[bool, str]:
    host, port = address.rsplit(":", 1)
    try:
        redis.Redis(host=host, port=int(port), socket_timeout=2, socket_connect_timeout=2).ping()
    except redis.RedisError as e:
        return False, f"{type(e).__name__}"
    return True, "PING ok"


def _haproxy(svc: dict) -> tuple[bool, str]:
    """Up when HAProxy itself sees every started instance UP in its route pools."""
    try:
        rows = list(csv.DictReader(io.StringIO(httpx.get(svc["stats"] + ";csv", timeout=3).text.lstrip("# "))))
    except httpx.HTTPError as e:
        return False, f"stats page: {type(e).__name__}"
    state = {(r["pxname"], r["svname"]): r["status"] for r in rows}
    want = [(f"route_{route}", iid) for route, ids in svc["servers"].items() for iid in ids]
    down = [f"{px[6:]}/{sv}" for px, sv in want if state.get((px, sv)) != "UP"]
    if down:
        return False, "not yet UP: " + ", ".join(down)
    return True, f"{len(want)} server(s) UP; stats {svc['stats']}"


def _listening(address: str) -> tuple[bool, str]:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError as e:
        return False, f"{type(e).__name__}"
    return True, "listening"


def check(svc: dict, watching: bool = False) -> tuple[bool, str]:
    kind = svc["kind"]
    if watching and kind == "web":
        # A bare connect: an HTTP check every few seconds would fill the access log.
        return _listening(svc["address"])
    if kind == "listening":
        return _listening(svc["address"])
    if kind == "redis":
        return _redis(svc["address"])
    if kind == "haproxy":
        return _haproxy(svc)
    if kind == "microservice":
        details = []
        for route in svc["routes"]:
            ok, detail = _http(f"http://{svc['address']}/{route}/health")
            if not ok:
                return False, detail
            details.append(detail)
        return True, ", ".join(details)
    return _http(f"http://{svc['address']}{svc['path']}")


def table(spec: dict, results: dict[str, tuple[bool, str]]) -> str:
    rows = [("service", "address", "state", "detail")]
    for svc in spec["services"]:
        ok, detail = results.get(svc["name"], (False, "not checked"))
        rows.append((svc["name"], svc["address"], "up" if ok else "DOWN", detail))
    for sk in spec["skipped"]:
        rows.append((sk["name"], "-", "skipped", sk["why"]))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(r)) for r in rows
    )


def _stop_stack(pidfile: str) -> None:
    try:
        with open(pidfile) as f:
            os.kill(int(f.read().strip()), signal.SIGTERM)
    except (OSError, ValueError) as e:
        print(f"could not stop the stack through {pidfile}: {e}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec", help="the stack.json that stack.plan wrote")
    ap.add_argument("--timeout", type=float, default=300, help="seconds to wait for every service (default 300)")
    ap.add_argument("--interval", type=float, default=5.0, help="seconds between checks while watching")
    ap.add_argument("--once", action="store_true", help="check once, print the table, exit 0 if all up")
    ap.add_argument("--stop-stack", metavar="PIDFILE",
                    help="supervisord's pidfile: SIGTERM it (stopping the stack) when giving up")
    args = ap.parse_args(argv)
    with open(args.spec) as f:
        spec = json.load(f)

    def check_all():
        return {svc["name"]: check(svc) for svc in spec["services"]}

    if args.once:
        results = check_all()
        print(table(spec, results))
        return 0 if all(ok for ok, _ in results.values()) else 1

    deadline = time.monotonic() + args.timeout
    results = check_all()
    while not all(ok for ok, _ in results.values()):
        if time.monotonic() > deadline:
            print(f"gave up after {args.timeout:.0f} s; still down (their logs are in var/log/):\n"
                  + table(spec, results), flush=True)
            if args.stop_stack:
                _stop_stack(args.stop_stack)
            return 1
        time.sleep(0.5)
        results = check_all()
    print(table(spec, results), flush=True)
    print(f"{READY_LINE} {spec['url']}  (Ctrl-C stops everything)", flush=True)

    # Watch: report each service that goes down or comes back, once per change.
    # Instances are watched through HAProxy's own checks, not polled again here:
    # each health call costs them a forward pass.
    watched = [svc for svc in spec["services"] if svc["kind"] != "microservice"]
    state = {svc["name"]: True for svc in watched}
    while True:
        time.sleep(args.interval)
        for name, (ok, detail) in ((svc["name"], check(svc, watching=True)) for svc in watched):
            if ok != state[name]:
                print(f"{name}: {'back up' if ok else 'DOWN'} ({detail})", flush=True)
                state[name] = ok


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
