"""The run's per-endpoint distributions: which calls count, the load probes' own, and their JSON forms."""

from __future__ import annotations

import json
import random
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_deploysmoke.perf.distributions import EndpointDistribution
from pytest_deploysmoke.perf.stats import LatencyHistogram
from pytest_deploysmoke.results import wire
from pytest_deploysmoke.results.endpoints import buckets_from_json, histogram_json, run_distributions
from pytest_deploysmoke.results.records import CallRecord, Measurement

LOAD_ACTION = "LOAD 2 users x 1 s: GET /health"


def http(action: str, outcome: str, ms: float, **fields: Any) -> CallRecord:
    return CallRecord("http", action, outcome, ok=outcome.isdigit() and int(outcome) < 400, ms=ms, **fields)


def test_each_request_to_the_target_counts_once_under_its_endpoint() -> None:
    """Answered calls give a latency, errors are 4xx, 5xx and no answer; the query is left out."""
    calls = [
        http("GET /items?page=1", "200", 10.0),
        http("GET /items?page=2", "404", 20.0),
        http("GET /items", "503", 30.0, attempt=1, retried=True),
        http("GET /items", "200", 40.0, attempt=2),
        http("GET /health", "connection refused", 2.0),
    ]
    health, items = run_distributions(calls, [])
    assert (health.endpoint, health.requests, health.errors, health.buckets) == ("GET /health", 1, 1, ())
    assert (items.endpoint, items.requests, items.errors, items.answered) == ("GET /items", 4, 2, 4)
    assert [ms for ms, _ in items.buckets] == pytest.approx([10.0, 20.0, 30.0, 40.0], rel=0.01)


def test_warmups_blocked_calls_other_origins_and_other_kinds_are_left_out() -> None:
    """Only requests sent to the target count: no warm-up, no call the guard blocked, no other service."""
    calls = [
        http("GET /items", "200", 5.0, warmup=True),
        CallRecord("http", "POST /items", "blocked", ok=False, ms=0.0),
        http("GET https://auth.example.com/token", "200", 50.0),
        CallRecord("ws", "connect /ws/tickers", "ok", ok=True, ms=3.0),
        CallRecord("db", "SELECT 1", "ok", ok=True, ms=1.0),
        http("GET /items", "200", 6.0),
    ]
    (items,) = run_distributions(calls, [])
    assert (items.endpoint, items.requests, items.errors, items.answered) == ("GET /items", 1, 0, 1)


def test_load_probe_requests_come_from_its_distributions_and_latency_measurements_add_nothing() -> None:
    """A load probe's per-endpoint figures count (not its one whole-run record), apart from the checks'
    own requests to the same endpoint; the latency fixture's measurement is not counted again, its
    requests being calls already."""
    histogram = LatencyHistogram()
    histogram.record(3.0, 90)
    load_part = EndpointDistribution.of("GET /health", histogram, requests=100, errors=10, client_bound=True)
    latency_part = EndpointDistribution.of("GET /items", histogram, requests=90, errors=0)
    measurements = [
        Measurement(LOAD_ACTION, 100, 10, 3.0, 3.0, 3.0, engine="builtin", distributions=(load_part,)),
        Measurement("GET /items", 90, 0, 3.0, 3.0, 3.0, engine="latency", distributions=(latency_part,)),
    ]
    calls = [
        CallRecord("http", LOAD_ACTION, "100 req, 10 errors, 98 req/s, client-bound", ok=False, ms=3.0),
        http("GET /health", "200", 7.0),
        http("GET /items", "200", 4.0),
    ]
    health, health_load, items = run_distributions(calls, measurements)
    assert (health.key, health.requests, health.errors, health.answered) == ("GET /health", 1, 0, 1)
    assert (health_load.key, health_load.source) == ("GET /health (load)", "load")
    assert (health_load.requests, health_load.errors, health_load.answered, health_load.client_bound) == (
        100,
        10,
        90,
        True,
    )
    assert (items.requests, items.answered) == (1, 1)


def test_order_is_by_endpoint_whatever_order_the_checks_ran_in() -> None:
    """The same calls in any order give the same tuple (a run under pytest-xdist reports in its own order)."""
    calls = [http(f"GET /{name}", "200", float(index + 1)) for index, name in enumerate("dbca")]
    names = [part.endpoint for part in run_distributions(calls, [])]
    assert names == ["GET /a", "GET /b", "GET /c", "GET /d"]
    assert run_distributions(reversed(calls), []) == run_distributions(calls, [])


def test_histogram_json_reads_back_into_the_same_buckets() -> None:
    """Written to the microsecond and read back, a histogram's buckets and percentiles are unchanged."""
    rng = random.Random(19)
    histogram = LatencyHistogram()
    for _ in range(5000):
        histogram.record(rng.lognormvariate(2.5, 0.8))
    part = EndpointDistribution.of("GET /x", histogram, requests=5000, errors=0)
    text = json.dumps(histogram_json(part))
    back = EndpointDistribution("GET /x", 5000, 0, buckets_from_json(json.loads(text)))
    assert back.histogram().buckets() == back.buckets
    assert [b[1] for b in back.buckets] == [b[1] for b in part.buckets]
    assert back.percentile(50.0) == pytest.approx(part.percentile(50.0), abs=0.0005)
    assert back.percentile(95.0) == pytest.approx(part.percentile(95.0), abs=0.0005)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"1": 2}, "is not a list of [ms, count] pairs"),
        ([[1.0, 2, 3]], "holds [1.0, 2, 3], not an [ms, count] pair"),
        ([[-1.0, 2]], "holds [-1.0, 2]: ms must be a number >= 0"),
        ([["1", 2]], 'holds ["1", 2]: ms must be a number >= 0'),
        ([[1.0, 0]], "holds [1.0, 0]: a count must be a whole number >= 1"),
        ([[1.0, 2.5]], "holds [1.0, 2.5]: a count must be a whole number >= 1"),
        ([[1.0, True]], "holds [1.0, true]: a count must be a whole number >= 1"),
    ],
    ids=["not-a-list", "triple", "negative-ms", "text-ms", "zero-count", "fraction-count", "bool-count"],
)
def test_buckets_that_no_histogram_wrote_are_refused(value: object, message: str) -> None:
    """Each malformed histogram says what it holds and what a bucket must be."""
    with pytest.raises(ValueError, match="^" + message.replace("[", r"\[").replace("]", r"\]") + "$"):
        buckets_from_json(value)


def test_load_probe_distributions_cross_the_wire_compactly() -> None:
    """A measurement's distributions reach the controller as they were, in compact JSON."""
    histogram = LatencyHistogram()
    for ms in (1.234567, 2.5, 2.5, 900.0):
        histogram.record(ms)
    part = EndpointDistribution.of("GET /health", histogram, requests=5, errors=1, client_bound=True)
    measurement = Measurement(LOAD_ACTION, 5, 1, 2.5, 900.0, 900.0, engine="builtin", distributions=(part,))
    report = SimpleNamespace(user_properties=[])
    wire.add_check_facts(report, title="Load", calls=[], measurements=[measurement])  # type: ignore[arg-type]
    (text,) = [value for name, value in report.user_properties if name == wire.MEASUREMENTS_PROPERTY]
    assert text == json.dumps(json.loads(text), separators=(",", ":"))
    assert f'"buckets":{json.dumps(histogram_json(part), separators=(",", ":"))}' in text
    (read,) = wire.read(report).measurements or ()  # type: ignore[arg-type]
    assert read == measurement
