"""The gate's arithmetic: percentiles, thresholds, and the loopback rule."""
import pytest

from loadtest.__main__ import UsageError, loopback, writer_counts
from loadtest.report import Recorder, Thresholds, capacity_table, details, percentile, summarize, verdict


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


def test_first_suggestions_are_reported_apart_and_gated_inside_all():
    rec = Recorder(ttft=[0.1] * 9 + [3.0], first_ttft=[3.0], typed_over_early=2, opened=1)
    rec.outcomes["completed"] = 10
    s = summarize(rec, writers=1, seconds=10)
    assert s["first_ttft"]["p90"] == 3.0 and s["first_ttft_samples"] == 1
    assert s["typed_over_before_first_token"] == 2 and s["drafts_opened"] == 1
    assert verdict(s, Thresholds(p90_ttft=1.0)) == []  # one slow first suggestion of ten is under p90
    missed = verdict(s, Thresholds(p90_ttft=1.0, p90_first_ttft=1.0))
    assert len(missed) == 1 and "first suggestions after opening 3.000 s" in missed[0]
    no_first = verdict(stage([0.1] * 10), Thresholds(p90_ttft=1.0, p90_first_ttft=1.0))
    assert len(no_first) == 1 and "no samples" in no_first[0]


def test_details_list_errors_by_code_and_prewarms():
    rec = Recorder(ttft=[0.2])
    rec.outcomes["completed"] = 3
    rec.error("busy")
    rec.error("busy")
    rec.error("timeout")
    rec.prewarms.update({"sent": 4, "prefilled": 3, "dropped": 1})
    lines = details(summarize(rec, writers=1, seconds=5))
    assert lines[0] == "errors by code: busy 2, timeout 1"
    assert "prewarms: sent 4, prefilled 3, dropped 1" in lines


def test_capacity_table_names_the_largest_passing_count_per_distribution():
    def s(writers, p90, missed=()):
        out = stage([p90] * 10)
        return {**out, "writers": writers, "missed": list(missed)}

    lines = capacity_table([
        ("short (40-120 words)", [s(1, 0.2), s(2, 0.3), s(4, 1.5, ["slow"])]),
        ("long (1000-3000 words)", [s(1, 2.0, ["slow"])]),
    ])
    assert len(lines) == 2 + 4 + 1
    assert lines[4].split()[:4] == ["short", "(40-120", "words)", "4"] and "FAIL" in lines[4]
    assert lines[-1] == "largest passing writer count: short (40-120 words): 2; long (1000-3000 words): none"
