"""The gate's arithmetic: percentiles, thresholds, and the loopback rule."""
import pytest

from loadtest.__main__ import UsageError, loopback, writer_counts
from loadtest.report import Recorder, Thresholds, percentile, summarize, verdict


def test_nearest_rank_percentiles():
    values = [0.1 * n for n in range(1, 11)]
    assert percentile(values, 0.5) == pytest.approx(0.5)
    assert percentile(values, 0.9) == pytest.approx(0.9)
    assert percentile(values, 0.99) == pytest.approx(1.0)
    assert percentile([], 0.9) is None


def stage(ttft, completed=10, errors=()):
    rec = Recorder(ttft=list(ttft))
    rec.outcomes["completed"] = completed
    for code in errors:
        rec.error(code)
    return summarize(rec, writers=2, seconds=10)


def test_verdict_names_each_missed_threshold():
    th = Thresholds(p90_ttft=1.0, error_rate=0.1)
    assert verdict(stage([0.2] * 10), th) == []
    slow = verdict(stage([0.2] * 8 + [2.0] * 2), th)
    assert len(slow) == 1 and "p90 time to first token" in slow[0]
    failing = verdict(stage([0.2] * 10, completed=8, errors=["busy", "busy"]), th)
    assert len(failing) == 1 and "error rate 20.0%" in failing[0] and "busy" in failing[0]
    nothing = verdict(stage([], completed=0, errors=["model_unavailable"]), th)
    assert len(nothing) == 3  # nothing completed, no TTFT samples, every stream failed


def test_only_loopback_targets():
    assert loopback("http://localhost:8000") == "http://127.0.0.1:8000"
    assert loopback("ws://[::1]:8080/smollm2/ws") == "ws://[::1]:8080/smollm2/ws"
    for url in ("http://192.0.2.1:8000", "ws://example.com/x/ws", "http://127.0.0.1.example.com/"):
        with pytest.raises(UsageError):
            loopback(url)


def test_writer_counts_are_bounded():
    assert writer_counts("1,2,4") == [1, 2, 4]
    for bad in ("0", "1000", "x", ""):
        with pytest.raises(UsageError):
            writer_counts(bad)
