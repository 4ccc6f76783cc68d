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

    # Seconds from send to first token; a request typed over before its first
    # token counts with its age then (dropping it would hide the slowest ones).
    ttft: list[float] = field(default_factory=list)
    first_ttft: list[float] = field(default_factory=list)  # the same, for first suggestions after opening a draft
    typed_over_early: int = 0  # requests whose TTFT sample is their age when typed over
    itl: list[float] = field(default_factory=list)  # seconds between tokens of one alternative
    outcomes: Counter = field(default_factory=Counter)  # completed / cancelled / error
    errors: Counter = field(default_factory=Counter)  # error code -> count
    sent: int = 0
    tokens: int = 0
    connect_failures: int = 0
    autosaves: Counter = field(default_factory=Counter)  # HTTP status -> count
    prewarms: Counter = field(default_factory=Counter)  # "sent", then replies: finish_reason or "error:<code>"
    opened: int = 0  # drafts opened in the measured window
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
    p90_first_ttft: float | None = None  # seconds; first suggestions are in p90_ttft too
    min_completed: int = 1


def percentiles(values: list[float]) -> dict:
    return {f"p{int(q * 100)}": percentile(values, q) for q in (0.5, 0.9, 0.99)}


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
        "ttft": percentiles(rec.ttft),
        "first_ttft": percentiles(rec.first_ttft),
        "itl": percentiles(rec.itl),
        "ttft_samples": len(rec.ttft),
        "first_ttft_samples": len(rec.first_ttft),
        "typed_over_before_first_token": rec.typed_over_early,
        "drafts_opened": rec.opened,
        "prewarms": dict(rec.prewarms.most_common()),
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
    first = summary["first_ttft"]["p90"]
    if th.p90_first_ttft is not None and (first is None or first > th.p90_first_ttft):
        shown = "no samples" if first is None else f"{first:.3f} s"
        missed.append(f"p90 time to first token of first suggestions after opening {shown} > {th.p90_first_ttft:g} s")
    if th.error_rate is not None and summary["error_rate"] > th.error_rate:
        missed.append(f"error rate {summary['error_rate']:.1%} > {th.error_rate:.1%} ({summary['error_codes']})")
    p99 = summary["itl"]["p99"]
    if th.p99_itl is not None and p99 is not None and p99 > th.p99_itl:
        missed.append(f"p99 inter-token latency {p99:.3f} s > {th.p99_itl:g} s")
    return missed


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.0f}"


def _triple(p: dict) -> str:
    return "/".join(_ms(p[k]) for k in ("p50", "p90", "p99"))


HEADER = (f"{'writers':>7} {'reqs':>5} {'done':>5} {'cancel':>6} {'errors':>6} "
          f"{'ttft p50/p90/p99 ms':>20} {'first p50/p90/p99 ms':>21} {'itl p50/p90/p99 ms':>19} "
          f"{'tok/s':>6} {'load':>5}  gate")


def row(s: dict, missed: list[str]) -> str:
    gate = "pass" if not missed else "FAIL"
    return (f"{s['writers']:>7} {s['requests']:>5} {s['completed']:>5} {s['cancelled']:>6} {s['errors']:>6} "
            f"{_triple(s['ttft']):>20} {_triple(s['first_ttft']):>21} {_triple(s['itl']):>19} "
            f"{s['tokens_per_s']:>6.1f} {s['load_average']:>5.1f}  {gate}")


def details(s: dict) -> list[str]:
    """The lines under a stage's row: errors by code, first suggestions, pre-warms."""
    out = []
    if s["error_codes"]:
        out.append("errors by code: " + ", ".join(f"{code} {n}" for code, n in s["error_codes"].items()))
    out.append(f"drafts opened after the warm-up {s['drafts_opened']}, first suggestions timed {s['first_ttft_samples']}; "
               f"{s['typed_over_before_first_token']} of {s['ttft_samples']} TTFT samples are typed-over ages")
    if s["prewarms"]:
        out.append("prewarms: " + ", ".join(f"{k} {n}" for k, n in s["prewarms"].items()))
    return out


def capacity_table(runs: list[tuple[str, list[dict]]]) -> list[str]:
    """One row per stage of each draft distribution, and the largest passing
    writer count of each. `runs`: (distribution, stages with their `missed`)."""
    head = (f"{'drafts':<24} {'writers':>7} {'gate':>4} {'ttft p90 ms':>11} {'first p90 ms':>12} "
            f"{'errors':>6} {'tok/s':>6}")
    lines = [head, "-" * len(head)]
    best = []
    for name, stages in runs:
        for s in stages:
            lines.append(f"{name:<24} {s['writers']:>7} {'pass' if not s['missed'] else 'FAIL':>4} "
                         f"{_ms(s['ttft']['p90']):>11} {_ms(s['first_ttft']['p90']):>12} "
                         f"{s['errors']:>6} {s['tokens_per_s']:>6.1f}")
        passing = [s["writers"] for s in stages if not s["missed"]]
        best.append(f"{name}: {max(passing) if passing else 'none'}")
    lines.append("largest passing writer count: " + "; ".join(best))
    return lines
