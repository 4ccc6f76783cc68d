"""What a load-test stage measured, its summary, and the gate verdict."""
from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1); None without samples."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Recorder:
    """Shared by every writer of one stage (one event loop, so no locks)."""

    ttft: list[float] = field(default_factory=list)  # seconds, send -> first token
    itl: list[float] = field(default_factory=list)  # seconds between tokens of one alternative
    outcomes: Counter = field(default_factory=Counter)  # completed / cancelled / error
    errors: Counter = field(default_factory=Counter)  # error code -> count
    sent: int = 0
    tokens: int = 0
    connect_failures: int = 0
    autosaves: Counter = field(default_factory=Counter)  # HTTP status -> count
    since: float = 0.0  # loop time measuring starts (after the warm-up)
    last_failure: str = ""

    def error(self, code: str) -> None:
        self.outcomes["error"] += 1
        self.errors[code] += 1


@dataclass(frozen=True)
class Thresholds:
    p90_ttft: float | None = 1.0  # seconds
    error_rate: float | None = 0.01  # errors / finished streams
    p99_itl: float | None = None  # seconds
    min_completed: int = 1


def summarize(rec: Recorder, writers: int, seconds: float) -> dict:
    finished = sum(rec.outcomes.values())
    errors = rec.outcomes["error"]
    return {
        "writers": writers,
        "seconds": round(seconds, 1),
        "requests": rec.sent,
        "completed": rec.outcomes["completed"],
        "cancelled": rec.outcomes["cancelled"],
        "errors": errors,
        "error_rate": errors / finished if finished else 0.0,
        "error_codes": dict(rec.errors.most_common()),
        "connect_failures": rec.connect_failures,
        "ttft": {f"p{int(q * 100)}": percentile(rec.ttft, q) for q in (0.5, 0.9, 0.99)},
        "itl": {f"p{int(q * 100)}": percentile(rec.itl, q) for q in (0.5, 0.9, 0.99)},
        "ttft_samples": len(rec.ttft),
        "tokens": rec.tokens,
        "tokens_per_s": rec.tokens / seconds if seconds > 0 else 0.0,
        "autosaves": dict(sorted(rec.autosaves.items())),
        "load_average": os.getloadavg()[0],
    }


def verdict(summary: dict, th: Thresholds) -> list[str]:
    """The thresholds this stage missed, as sentences; empty = passed."""
    missed = []
    if summary["completed"] < th.min_completed:
        missed.append(f"only {summary['completed']} streams completed (want at least {th.min_completed})")
    p90 = summary["ttft"]["p90"]
    if th.p90_ttft is not None and (p90 is None or p90 > th.p90_ttft):
        shown = "no samples" if p90 is None else f"{p90:.3f} s"
        missed.append(f"p90 time to first token {shown} > {th.p90_ttft:g} s")
    if th.error_rate is not None and summary["error_rate"] > th.error_rate:
        missed.append(f"error rate {summary['error_rate']:.1%} > {th.error_rate:.1%} ({summary['error_codes']})")
    p99 = summary["itl"]["p99"]
    if th.p99_itl is not None and p99 is not None and p99 > th.p99_itl:
        missed.append(f"p99 inter-token latency {p99:.3f} s > {th.p99_itl:g} s")
    return missed


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.0f}"


HEADER = (f"{'writers':>7} {'reqs':>5} {'done':>5} {'cancel':>6} {'errors':>6} "
          f"{'ttft p50/p90/p99 ms':>20} {'itl p50/p90/p99 ms':>19} {'tok/s':>6} {'load':>5}  gate")


def row(s: dict, missed: list[str]) -> str:
    ttft = "/".join(_ms(s["ttft"][k]) for k in ("p50", "p90", "p99"))
    itl = "/".join(_ms(s["itl"][k]) for k in ("p50", "p90", "p99"))
    gate = "pass" if not missed else "FAIL"
    return (f"{s['writers']:>7} {s['requests']:>5} {s['completed']:>5} {s['cancelled']:>6} {s['errors']:>6} "
            f"{ttft:>20} {itl:>19} {s['tokens_per_s']:>6.1f} {s['load_average']:>5.1f}  {gate}")
