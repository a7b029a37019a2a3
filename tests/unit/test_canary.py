"""The live canary judge: both sides' tallies, the interval and window judgements, when the window stops, its lines."""

from __future__ import annotations

import random

import pytest

from pytest_deploysmoke.perf.canary import CanaryJudge, Side, judgement_line, label, summary_text
from pytest_deploysmoke.perf.compare import BaselineIdentity, CompareSettings, EndpointComparison
from tests.comparisons import endpoint_row

SLOW = "GET /slow"


def feed(judge: CanaryJudge, side: Side, endpoint: str, median_ms: float, n: int, seed: int) -> None:
    """*n* answered samples of *endpoint* on *side*, spread ±10 % around *median_ms* (seeded: the same every run)."""
    rng = random.Random(seed)
    for _ in range(n):
        judge.add(side, endpoint, median_ms * rng.uniform(0.9, 1.1), ok=True)


def row_of(judge_rows: tuple[EndpointComparison, ...], endpoint: str) -> EndpointComparison:
    return next(row for row in judge_rows if row.endpoint == endpoint)


def test_a_forty_percent_slower_canary_is_a_regression_that_stops_the_window() -> None:
    """40 ms against 56 ms over 100 samples a side: a latency regression in the interval and the window, so it stops."""
    judge = CanaryJudge("stable", CompareSettings(), ["GET /health", SLOW])
    feed(judge, "stable", SLOW, 40.0, 100, seed=1)
    feed(judge, "canary", SLOW, 56.0, 100, seed=2)
    interval = judge.end_interval()
    row = row_of(interval.endpoints, SLOW)
    assert (row.verdict, row.rules, row.n_baseline, row.n_now) == ("regression", ("latency_regression",), 100, 100)
    assert row.shift_pct == pytest.approx(40, abs=5)
    assert interval.baseline == label("stable") == "target 'stable' (live, same moments)"
    assert interval.identity == BaselineIdentity("target", "stable")
    assert row.baseline_distribution is None and row.now_distribution is None  # an interval keeps its figures only
    assert [r.endpoint for r in judge.stops(interval)] == [SLOW]
    # The endpoint named first but never sampled is listed, not evaluated, in the order given.
    assert [(r.endpoint, r.verdict) for r in interval.endpoints] == [
        ("GET /health", "not evaluated"),
        (SLOW, "regression"),
    ]


def test_a_regression_stops_the_window_only_when_it_is_a_rollback() -> None:
    """With on_regression = "no-go" the window runs on: the judgement at its end decides."""
    judge = CanaryJudge("stable", CompareSettings(on_regression="no-go"), [SLOW])
    feed(judge, "stable", SLOW, 40.0, 100, seed=1)
    feed(judge, "canary", SLOW, 56.0, 100, seed=2)
    interval = judge.end_interval()
    assert interval.regressions and judge.stops(interval) == ()
    assert judge.so_far().regressions[0].endpoint == SLOW


def test_too_few_samples_in_an_interval_never_stop_it() -> None:
    """30 samples a side (< 50): not evaluated, whatever the shift, and the window goes on."""
    judge = CanaryJudge("stable", CompareSettings(), [SLOW])
    feed(judge, "stable", SLOW, 40.0, 30, seed=1)
    feed(judge, "canary", SLOW, 80.0, 30, seed=2)
    interval = judge.end_interval()
    row = row_of(interval.endpoints, SLOW)
    assert (row.verdict, row.p_value) == ("not evaluated", None)
    assert judgement_line(row) == "GET /slow not evaluated: 30 samples in the baseline < 50; 30 samples now < 50"
    assert judge.stops(interval) == ()


def test_an_interval_regression_the_window_does_not_confirm_goes_on() -> None:
    """A slow interval after a long good stretch: the interval says regression, the window so far does not; no stop."""
    judge = CanaryJudge("stable", CompareSettings(), [SLOW])
    feed(judge, "stable", SLOW, 40.0, 500, seed=1)
    feed(judge, "canary", SLOW, 40.0, 500, seed=2)
    assert judge.end_interval().regressions == ()
    feed(judge, "stable", SLOW, 40.0, 60, seed=3)
    feed(judge, "canary", SLOW, 60.0, 60, seed=4)
    interval = judge.end_interval()
    assert [r.endpoint for r in interval.regressions] == [SLOW]
    assert judge.so_far().regressions == ()
    assert judge.stops(interval) == ()


def test_intervals_start_empty_and_the_window_keeps_everything() -> None:
    """Each interval is judged on its own samples; the whole window's distributions hold every sample of both sides."""
    judge = CanaryJudge("stable", CompareSettings(), [SLOW])
    feed(judge, "stable", SLOW, 40.0, 70, seed=1)
    feed(judge, "canary", SLOW, 40.0, 60, seed=2)
    judge.end_interval()
    judge.add("canary", SLOW, None, ok=False)  # no answer: a request and an error, no latency
    second = row_of(judge.end_interval().endpoints, SLOW)
    assert (second.n_baseline, second.n_now, second.error_rate_now) == (0, 0, 1.0)
    stable, canary = judge.total.distributions("stable"), judge.total.distributions("canary")
    assert [(d.endpoint, d.requests, d.errors, d.answered) for d in stable] == [(SLOW, 70, 0, 70)]
    assert [(d.endpoint, d.requests, d.errors, d.answered) for d in canary] == [(SLOW, 61, 1, 60)]


def test_judgement_and_summary_lines() -> None:
    """A judged line gives both sides' p50 and p95, the shift, the p-value and the verdict; the errors when a side
    had any; the summary names each regression with its shift."""
    row = endpoint_row(
        SLOW,
        p_value=3e-5,
        error_rate_now=0.05,
        errors_now=19,
        error_p_value=0.0012,
        rules=("latency_regression", "error_regression"),
    )
    assert judgement_line(row) == (
        "GET /slow p50 12.0 -> 17.1 ms (+42%), p95 15.0 -> 21.0 ms, p = 3e-05, "
        "error rate 0% -> 5% (0 of 400 -> 19 of 380 requests), p = 0.0012: "
        "regression (latency_regression, error_regression)"
    )
    quiet = endpoint_row(SLOW, "no significant change", p50_now_ms=12.1, shift_pct=0.8, p_value=0.61)
    assert judgement_line(quiet) == (
        "GET /slow p50 12.0 -> 12.1 ms (+0.8%), p95 15.0 -> 21.0 ms, p = 0.61: no significant change"
    )
    judge = CanaryJudge("stable", CompareSettings(), [SLOW, "GET /health"])
    feed(judge, "stable", SLOW, 40.0, 100, seed=1)
    feed(judge, "canary", SLOW, 56.0, 100, seed=2)
    shift = judge.so_far().regressions[0].shift_pct or 0.0
    assert summary_text(judge.so_far()) == f"regression GET /slow p50 +{shift:.0f}%"
    calm = CanaryJudge("stable", CompareSettings(), [SLOW, "GET /health"])
    feed(calm, "stable", SLOW, 40.0, 100, seed=1)
    feed(calm, "canary", SLOW, 40.0, 100, seed=2)
    assert summary_text(calm.so_far()) == "no regression (1 endpoint judged, 1 not evaluated)"
