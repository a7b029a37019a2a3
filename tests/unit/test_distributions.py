"""EndpointDistribution and the histogram's buckets: written out, read back, merged, without losing a count."""

from __future__ import annotations

import random

import pytest

from pytest_deploysmoke.perf.distributions import EndpointDistribution, merge_by_endpoint, path_template
from pytest_deploysmoke.perf.stats import LatencyHistogram


def lognormal(n: int, median_ms: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(0, 0.3) * median_ms for _ in range(n)]


def histogram_of(values: list[float]) -> LatencyHistogram:
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    return histogram


def test_buckets_read_back_fill_the_same_buckets() -> None:
    original = histogram_of([*lognormal(2000, 20.0, seed=1), 0.05, 3_000.0])
    again = EndpointDistribution.of("GET /x", original, requests=2002, errors=0).histogram()
    assert again.buckets() == original.buckets()
    assert again.count == original.count == 2002
    assert again.percentiles((50.0, 95.0, 99.0)) == original.percentiles((50.0, 95.0, 99.0))
    assert again.max == original.max  # the top bucket is written at the exact maximum


def test_buckets_are_bounded_whatever_is_recorded() -> None:
    histogram = histogram_of(lognormal(50_000, 20.0, seed=2))
    assert len(histogram.buckets()) < histogram.bucket_count
    assert sum(count for _, count in histogram.buckets()) == 50_000


def test_record_with_a_count_is_the_same_as_recording_each() -> None:
    one_by_one = histogram_of([12.5] * 7)
    at_once = LatencyHistogram()
    at_once.record(12.5, 7)
    assert at_once.buckets() == one_by_one.buckets()
    assert at_once.mean == pytest.approx(one_by_one.mean)
    with pytest.raises(ValueError, match="count must be at least 1"):
        at_once.record(1.0, 0)


def test_merge_adds_every_value() -> None:
    first, second = lognormal(300, 10.0, seed=3), lognormal(500, 30.0, seed=4)
    merged = histogram_of(first)
    merged.merge(histogram_of(second))
    assert merged.buckets() == histogram_of(first + second).buckets()
    assert (merged.min, merged.max) == (min(first + second), max(first + second))
    with pytest.raises(ValueError, match="same significant digits"):
        merged.merge(LatencyHistogram(significant_digits=3))


def test_distributions_merge_per_endpoint_in_order_of_appearance() -> None:
    a1 = EndpointDistribution.of("GET /a", histogram_of([10.0] * 60), requests=62, errors=2)
    b = EndpointDistribution.of("GET /b", histogram_of([5.0] * 5), requests=5, errors=0, client_bound=True)
    a2 = EndpointDistribution.of("GET /a", histogram_of([20.0] * 40), requests=40, errors=1)
    merged = merge_by_endpoint([a1, b, a2])
    assert [row.endpoint for row in merged] == ["GET /a", "GET /b"]
    a = merged[0]
    assert (a.requests, a.errors, a.answered) == (102, 3, 100)
    assert a.error_rate == pytest.approx(3 / 102)
    assert a.percentile(50.0) == pytest.approx(10.0, rel=0.01)
    assert a.percentile(95.0) == pytest.approx(20.0, rel=0.01)
    assert merged[1].client_bound and not a.client_bound


def test_an_empty_distribution_has_no_figures() -> None:
    nothing = EndpointDistribution("GET /down", requests=3, errors=3)
    assert nothing.answered == 0
    assert nothing.percentile(50.0) is None
    assert EndpointDistribution("GET /none", requests=0, errors=0).error_rate is None


@pytest.mark.parametrize(
    ("endpoint", "template"),
    [
        ("GET /api/v1/packs/2b047d39-f41f-4a0d-b7f4-1c5c7b2029fa", "GET /api/v1/packs/{id}"),
        ("DELETE /api/v1/users/42", "DELETE /api/v1/users/{id}"),
        ("GET /blobs/9f86d081884c7d659a2feaa0c55ad015/meta", "GET /blobs/{id}/meta"),
        ("GET /orders/01JDQ7W8Z9X4K2M3N5P6R7S8T9", "GET /orders/{id}"),
        ("GET /api/v1/market/klines", "GET /api/v1/market/klines"),
        ("GET /api/markets/krw/tickers", "GET /api/markets/krw/tickers"),
        ("GET /api/v2/users/me", "GET /api/v2/users/me"),
        ("GET /", "GET /"),
    ],
)
def test_a_path_template_names_the_route_not_the_record(endpoint: str, template: str) -> None:
    """Ids (numbers, UUIDs, digests, long tokens) are {id}; words, versions like v2 and short names stay."""
    assert path_template(endpoint) == template


def test_two_runs_reaching_one_route_with_their_own_ids_give_one_endpoint() -> None:
    from pytest_deploysmoke.results.endpoints import run_distributions
    from pytest_deploysmoke.results.records import CallRecord

    calls = [
        CallRecord("http", "GET /api/v1/packs/2b047d39-f41f-4a0d-b7f4-1c5c7b2029fa", "200", ok=True, ms=8.0),
        CallRecord("http", "GET /api/v1/packs/5efc0e74-b20e-43ca-ab88-c5db7e8c1f46", "200", ok=True, ms=9.0),
    ]
    (packs,) = run_distributions(calls, [])
    assert (packs.endpoint, packs.requests) == ("GET /api/v1/packs/{id}", 2)
