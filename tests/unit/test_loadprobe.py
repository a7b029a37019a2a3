"""The load probe's own logic: the client-bound judgement, the generated locustfile, per-endpoint tallies (no requests)."""

from __future__ import annotations

import math

import pytest

from pytest_deploysmoke.config.redaction import Redactor
from pytest_deploysmoke.perf.load.locust import locustfile_for, read_final_stats
from pytest_deploysmoke.perf.load.stats import (
    EngineRun,
    LoadPlan,
    LoopLag,
    distributions_of,
    judge_client,
    load_stats,
    step_tallies,
    whole_run,
)
from pytest_deploysmoke.perf.stats import LatencyStats


def test_client_bound_note_flags_the_client() -> None:
    """A client at a full core, or a lagging loop, is named as the bottleneck; a quiet one is not."""
    quiet = LoopLag(p95=0.3, max=2.0, samples=100)
    assert judge_client(0.4, quiet) == (
        False,
        "client 0.40 of a core, event-loop lag p95 0.3, max 2.0 ms: not the bottleneck",
    )
    busy, note = judge_client(0.97, LoopLag(p95=14.0, max=40.0, samples=100))
    assert busy and note.startswith("CLIENT-BOUND (client 0.97 of a core, event-loop lag p95 14, max 40 ms: ")
    assert "CPU at or over 0.8 of a core, loop lag p95 over 5 ms" in note and "engine='locust'" in note
    assert judge_client(0.5, LoopLag(p95=6.0, max=30.0, samples=9))[0]
    assert judge_client(math.nan, None, warned=True)[0]


def test_locustfile_compiles() -> None:
    """The generated locustfile is valid Python with the scenario in it."""
    source = locustfile_for([("GET", "/health"), ("POST", "/items")], 5.0, True, 0)
    compile(source, "locustfile.py", "exec")
    assert "[['GET', '/health'], ['POST', '/items']]" in source


def _plan(*requests: tuple[str, str, str]) -> LoadPlan:
    """A plan of (method, url, endpoint) requests."""
    return LoadPlan(
        tuple((method, url) for method, url, _ in requests), tuple(e for _, _, e in requests), "LOAD", 2, 1.0
    )


def test_a_plan_names_one_endpoint_per_request() -> None:
    """A plan whose endpoints do not match its requests one to one is refused."""
    with pytest.raises(ValueError, match="one endpoint per request"):
        LoadPlan((("GET", "/a"), ("GET", "/b")), ("GET /a",), "LOAD", 1, 1.0)


def test_requests_to_one_endpoint_share_its_tally() -> None:
    """Two queries of one path are one endpoint; the whole run merges each endpoint once."""
    tallies = step_tallies(
        _plan(
            ("GET", "/items?page=1", "GET /items"),
            ("GET", "/health", "GET /health"),
            ("GET", "/items?page=2", "GET /items"),
        )
    )
    assert tallies[0] is tallies[2] and tallies[0] is not tallies[1]
    tallies[0].histogram.record(3.0, 4)
    tallies[0].requests, tallies[0].errors = 5, 1
    tallies[1].histogram.record(1.0)
    tallies[1].requests = 1
    histogram, errors = whole_run(tallies)
    assert (histogram.count, errors) == (5, 1)
    assert [(d.endpoint, d.requests, d.errors, d.answered) for d in distributions_of(tallies)] == [
        ("GET /items", 5, 1, 4),
        ("GET /health", 1, 0, 1),
    ]


def test_a_client_bound_run_marks_every_distribution() -> None:
    """The run's client_bound is each endpoint distribution's, so no comparison takes them for the server's."""
    (tally,) = set(step_tallies(_plan(("GET", "/a", "GET /a"))))
    tally.histogram.record(2.0)
    tally.requests = 1
    histogram, _ = whole_run((tally,))
    stats = LatencyStats.from_histogram(histogram, action="LOAD")
    for cpu, bound in ((0.95, True), (0.1, False)):
        run = EngineRun(stats, 100.0, cpu, None, distributions=distributions_of((tally,)))
        loaded = load_stats(run, users=2, duration_s=1.0, engine="builtin", workers=0, scenario=("GET /a",))
        assert loaded.client_bound is bound
        assert [d.client_bound for d in loaded.distributions] == [bound]


def test_locusts_final_statistics_become_the_runs_and_each_endpoints() -> None:
    """Locust's final statistics per request name: counts and rounded times per endpoint, summed for the run."""
    plan = _plan(("GET", "/health", "GET /health"), ("GET", "/status/404", "GET /status/404"))
    final = {
        "entries": [
            {"name": "GET /health", "requests": 3, "failures": 0, "times": [[1, 2], [120, 1]]},
            {"name": "GET /status/404", "requests": 2, "failures": 2, "times": [[2, 2]]},
        ],
        "errors": [{"error": "HTTPError('404 Client Error: Not Found for url: /status/404')", "occurrences": 2}],
    }
    stats, distributions = read_final_stats(final, plan, Redactor(), 2.0)
    assert (stats.count, stats.errors, float(stats.max)) == (5, 2, 120.0)
    assert stats.error_outcomes == (("404", 2),)
    assert [(d.endpoint, d.requests, d.errors, d.answered, d.percentile(100)) for d in distributions] == [
        ("GET /health", 3, 0, 3, 120.0),
        ("GET /status/404", 2, 2, 2, 2.0),
    ]
