"""Latency statistics: the bounded histogram, Millis comparisons, LatencyStats and the p95 check (no requests)."""

from __future__ import annotations

import json
import math
import pickle
import random
from typing import Any

import pytest

from pytest_deploysmoke.perf.budgets import Budget
from pytest_deploysmoke.perf.latency import split_request
from pytest_deploysmoke.perf.stats import LatencyHistogram, LatencyStats, Millis

ROUNDING_MS = 0.0005  # values are counted in whole microseconds


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered) / 100 - 1e-9)) - 1]


def histogram_of(values: list[float]) -> LatencyHistogram:
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    return histogram


@pytest.mark.parametrize(
    "values",
    [
        [float(v) for v in range(1, 1001)],
        [random.Random(7).lognormvariate(3.5, 1.2) for _ in range(20_000)],
        [random.Random(8).uniform(0.05, 0.3) for _ in range(500)],  # under 0.256 ms: 1 µs buckets
        [50.0] * 19 + [2450.0],
    ],
    ids=["1-to-1000", "lognormal", "sub-millisecond", "one-outlier"],
)
def test_percentiles_are_within_the_stated_relative_error(values: list[float]) -> None:
    """Each percentile is never below the exact nearest-rank value and at most 1/128 above it."""
    histogram = histogram_of(values)
    assert histogram.relative_error == 1 / 128 < 0.01
    for q in (0, 1, 25, 50, 90, 95, 99, 99.9, 100):
        exact = nearest_rank(values, q)
        got = histogram.percentile(q)
        assert exact - ROUNDING_MS <= got <= (exact + ROUNDING_MS) * (1 + histogram.relative_error), (q, exact, got)


def test_min_max_mean_and_count_are_exact() -> None:
    """min, max and mean are kept beside the buckets, so they are the recorded values themselves."""
    values = [12.3456, 30.0, 2450.25, 0.0]
    histogram = histogram_of(values)
    assert (histogram.count, histogram.min, histogram.max) == (4, 0.0, 2450.25)
    assert histogram.mean == pytest.approx(sum(values) / 4)
    assert histogram.percentile(100) == 2450.25  # capped at the exact maximum
    assert histogram.percentile(0) == 0.0


def test_memory_is_bounded_whatever_is_recorded() -> None:
    """Recording 200,000 values from 0.2 ms to an hour keeps the bucket count it was made with."""
    histogram = LatencyHistogram()
    buckets = histogram.bucket_count
    assert buckets == 3840
    values = random.Random(3).choices([0.2, 3.0, 45.0, 800.0, 12_000.0, 3_600_000.0], k=200_000)
    for value in values:
        histogram.record(value)
    assert histogram.count == 200_000
    assert histogram.bucket_count == buckets


def test_values_past_the_highest_trackable_are_counted_at_the_top() -> None:
    """A value over about 19 hours counts in the last bucket; max stays exact."""
    histogram = histogram_of([1.0, 100 * 3600 * 1000.0])
    assert histogram.max == 100 * 3600 * 1000.0
    assert histogram.percentile(100) == histogram.max
    assert 1.0 <= histogram.percentile(50) <= 1.0 * (1 + histogram.relative_error)


def test_empty_histogram_has_no_values() -> None:
    """With nothing recorded, count is 0 and every value is NaN."""
    histogram = LatencyHistogram()
    assert histogram.count == 0
    assert all(math.isnan(v) for v in (histogram.min, histogram.max, histogram.mean, histogram.percentile(95)))


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan])
def test_bad_values_are_refused(bad: float) -> None:
    """A negative, infinite or NaN latency is a ValueError, not a silent bucket."""
    with pytest.raises(ValueError, match="a latency must be a finite number of ms >= 0"):
        LatencyHistogram().record(bad)
    with pytest.raises(ValueError, match="a percentile is from 0 to 100"):
        LatencyHistogram().percentile(101)


def test_more_significant_digits_mean_finer_buckets() -> None:
    """Three significant digits give 1/1024 relative error, in a bigger (still fixed) array."""
    histogram = LatencyHistogram(significant_digits=3)
    assert histogram.relative_error == 1 / 1024
    assert histogram.bucket_count > LatencyHistogram().bucket_count


def stats_of(values: list[float], **kwargs: Any) -> LatencyStats:
    return LatencyStats.from_histogram(histogram_of(values), action="GET /x", **kwargs)


def test_millis_compares_with_durations_and_seconds() -> None:
    """Strings carry their unit, plain numbers are seconds (as budget= is), Millis are ms."""
    p95 = Millis(2450.0, "p95", "of 1: ...")
    assert p95 < "2.5s" and p95 > "2s" and p95 <= "2450ms" and p95 >= "2450ms"
    assert p95 < 3 and p95 > 2 and 3 > p95 and 2.0 < p95  # seconds, also reflected
    assert p95 == "2450ms" and p95 == 2.45 and p95 != 2450
    assert Millis(10.0) < Millis(20.0)
    assert hash(Millis(50.0)) == hash(0.05)
    assert float(p95) == 2450.0 and p95 + 1 == 2451.0  # arithmetic is plain ms
    assert (p95 == "fast") is False
    with pytest.raises(ValueError, match="a duration must be seconds or a string like '100ms'"):
        assert p95 < "fast"
    with pytest.raises(TypeError):
        assert p95 < None


def test_millis_shows_the_distribution_in_repr_and_the_value_in_str() -> None:
    """repr (what a failed assert prints) carries the whole distribution; str and format the value."""
    stats = stats_of([12.0] + [30.0] * 45 + [2450.0, 2450.0, 2600.0, 2700.0], errors=1, error_outcomes=[("500", 1)])
    # 2450 ms is reported as 2458 ms: the top of its bucket, 0.3 % above (within 1/128).
    assert (
        repr(stats.p95) == "2458 ms (GET /x p95 of 50: min 12, p50 30, p95 2458, p99 2700, max 2700; 1 error: 500 x1)"
    )
    assert str(stats.p95) == "2458 ms" and f"{stats.p95}" == "2458 ms" and f"{stats.p95:.1f}" == "2457.6"
    assert repr(pickle.loads(pickle.dumps(stats.p95))) == repr(stats.p95)


def test_failed_assert_shows_the_distribution() -> None:
    """`assert stats.p95 < "10ms"` fails with every percentile in the message."""
    stats = stats_of([12.0] + [30.0] * 48 + [2700.0])
    with pytest.raises(AssertionError) as failure:
        assert stats.p95 < "10ms"
    assert "30 ms (GET /x p95 of 50: min 12, p50 30, p95 30, p99 2700, max 2700; 0 errors) < '10ms'" in str(
        failure.value
    )


def test_stats_fields_and_describe() -> None:
    """count includes unanswered requests; error_rate is errors over count; describe is one line."""
    stats = stats_of(
        [50.0] * 8,
        errors=2,
        unanswered=2,
        warmup=1,
        concurrency=2,
        elapsed_s=0.25,
        error_outcomes=[("timed out", 2)],
    )
    assert (stats.count, stats.errors, stats.error_rate, stats.warmup, stats.unanswered) == (10, 2, 0.2, 1, 2)
    assert stats.p50 == "50ms" and stats.max == "50ms"
    assert stats.describe() == (
        "GET /x: 10 requests (+1 warm-up), concurrency 2, 0.25 s: min 50, p50 50, p95 50, p99 50, max 50 ms, "
        "mean 50 ms; 2 errors: timed out x2 (20.0%)"
    )
    assert repr(stats.p50).endswith(
        "(GET /x p50 of 8 answered: min 50, p50 50, p95 50, p99 50, max 50; 2 errors: timed out x2)"
    )


def test_empty_stats_compare_false() -> None:
    """With no answer, every latency is NaN: `stats.p95 < "1s"` is false and says why."""
    stats = stats_of([], errors=3, unanswered=3, error_outcomes=[("connection refused", 3)])
    assert (stats.count, stats.error_rate) == (3, 1.0)
    assert not stats.p95 < "1s"
    assert repr(stats.p95) == "n/a (GET /x p95 of 0: no answers; 3 errors: connection refused x3)"
    assert stats_of([]).describe() == "GET /x: 0 requests, concurrency 1, 0.00 s: no answers; 0 errors (0.0%)"


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("/health", ("GET", "/health")),
        ("POST /api/search", ("POST", "/api/search")),
        ("https://example.com/x", ("GET", "https://example.com/x")),
    ],
)
def test_request_is_a_path_or_method_and_path(request_text: str, expected: tuple[str, str]) -> None:
    """`latency("/x")` is a GET; `latency("POST /x")` names the method."""
    assert split_request(request_text) == expected


def test_budget_object_is_accepted() -> None:
    """A two-level budget's limit is what the p95 is held to."""
    from pytest_deploysmoke.perf.latency import check_p95

    stats = stats_of([50.0] * 20)
    check_p95(stats, Budget.of(("10ms", "1s")))
    with pytest.raises(pytest.fail.Exception, match=r"p95 50 ms is over the budget of 20 ms"):
        check_p95(stats, Budget.of("20ms"))


def test_failed_asserts_on_errors_name_the_endpoint() -> None:
    """`assert stats.errors == 0`, `stats.error_rate < x` and `error_summary` as the message name what was measured."""
    stats = stats_of([30.0] * 10, errors=10, error_outcomes=[("500", 10)])
    with pytest.raises(AssertionError) as failure:
        assert stats.errors == 0
    assert str(failure.value).startswith("assert 10 (GET /x: 10 requests, 10 errors: 500 x10) == 0")
    with pytest.raises(AssertionError) as failure:
        assert stats.error_rate < 0.01
    assert str(failure.value).startswith("assert 1.0 (GET /x: 10 requests, 10 errors: 500 x10) < 0.01")
    with pytest.raises(AssertionError) as failure:
        assert stats.errors == 0, stats.error_summary
    assert str(failure.value).startswith("GET /x: 10 errors: 500 x10")
    assert stats.errors == 10 and str(stats.errors) == "10" and f"{stats.error_rate:.0%}" == "100%"
    assert json.dumps({"errors": stats.errors, "rate": stats.error_rate}) == '{"errors": 10, "rate": 1.0}'
    assert repr(pickle.loads(pickle.dumps(stats.errors))) == repr(stats.errors)
    assert repr(pickle.loads(pickle.dumps(stats.error_rate))) == repr(stats.error_rate)
