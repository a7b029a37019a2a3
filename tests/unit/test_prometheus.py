"""The Prometheus metrics of a hand-built verdict: names, labels and values, and the doc page that lists them."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pytest_deploysmoke.config.redaction import Redactor
from pytest_deploysmoke.perf.stats import LatencyHistogram
from pytest_deploysmoke.reports.prometheus import QUANTILES, build_registry
from pytest_deploysmoke.results.records import CallRecord
from pytest_deploysmoke.results.verdict import CheckResult, Decision, RunInfo, Verdict, decide, phase_results
from pytest_deploysmoke.results.watch_log import ProbeFigures, WatchInterval, WatchLog

DOC = Path(__file__).parents[2] / "docs" / "prometheus.md"

RUN = RunInfo(
    target="prod",
    base_url="https://example.com",
    production=True,
    expected_version="2.0.1",
    reported_version="2.0.0",
    started=1_750_000_000.0,
    finished=1_750_000_012.5,
)
#: 20 answered calls of 1..20 ms on GET /items (queries differ), and what the endpoint figures leave out.
ITEMS = tuple(CallRecord("http", f"GET /items?page={ms}", "200", ok=True, ms=float(ms)) for ms in range(1, 21))
CHECKS = (
    CheckResult(
        "t.py::test_health",
        "health",
        "Health answers",
        "passed",
        0.25,
        calls=(
            CallRecord("http", "GET /health", "503", ok=False, ms=40.0, retried=True),
            CallRecord("http", "GET /health", "200", ok=True, ms=8.0, attempt=2),
            CallRecord("http", "GET /health", "connection refused", ok=False, ms=1.0),
        ),
    ),
    CheckResult(
        "t.py::test_items",
        "features",
        "Items list",
        "failed",
        1.5,
        message="assert 0 == 1",
        calls=(
            CallRecord("http", "GET /items", "200", ok=True, ms=900.0, warmup=True),  # a warm-up: left out
            *ITEMS,
            CallRecord("http", "GET /private", "401", ok=False, ms=3.0),  # a 4xx a check asked for: no error
            CallRecord("http", "POST /items", "blocked", ok=False, ms=0.0, write=True),  # never sent
            CallRecord("db", "SELECT 1", "ok", ok=True, ms=2.0),
        ),
    ),
)
VERDICT = decide(RUN, phase_results(("health", "features"), ("health",), CHECKS), CHECKS)


def samples(registry: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The values of the samples called *name*, keyed by their sorted labels."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == name
    }


def test_verdict_gauge_names_target_version_and_decision() -> None:
    """deploysmoke_verdict is 1, labelled with the target, the reported version and the decision."""
    registry = build_registry(VERDICT)
    assert VERDICT.decision == "NO-GO"
    assert samples(registry, "deploysmoke_verdict") == {
        (("decision", "NO-GO"), ("target", "prod"), ("version", "2.0.0")): 1.0
    }


@pytest.mark.parametrize(
    ("expected", "reported", "version"), [("2.0.1", "2.0.0", "2.0.0"), ("2.0.1", "", "2.0.1"), ("", "", "")]
)
def test_version_label_is_reported_else_expected_else_empty(expected: str, reported: str, version: str) -> None:
    """The version label is the version the target reported, else the one expected, else empty."""
    verdict = replace(VERDICT, run=replace(RUN, expected_version=expected, reported_version=reported))
    (labels,) = samples(build_registry(verdict), "deploysmoke_verdict")
    assert dict(labels)["version"] == version


@pytest.mark.parametrize("decision", ["GO", "GO with warnings", "NO-GO", "ROLLBACK"])
def test_every_decision_is_a_label_value(decision: Decision) -> None:
    """Each of the four decisions is the decision label as the verdict spells it."""
    (labels,) = samples(build_registry(replace(VERDICT, decision=decision)), "deploysmoke_verdict")
    assert dict(labels)["decision"] == decision


def test_each_check_has_its_duration_phase_and_outcome() -> None:
    """deploysmoke_check_duration_seconds has one sample per check: node id, phase, outcome, seconds."""
    assert samples(build_registry(VERDICT), "deploysmoke_check_duration_seconds") == {
        (("check", "t.py::test_health"), ("outcome", "passed"), ("phase", "health")): 0.25,
        (("check", "t.py::test_items"), ("outcome", "failed"), ("phase", "features")): 1.5,
    }


def test_run_timestamp_and_duration() -> None:
    """The run's end (Unix time) and its length are there, so a replaced group tells when it was pushed."""
    registry = build_registry(VERDICT)
    assert samples(registry, "deploysmoke_run_timestamp_seconds") == {(): 1_750_000_012.5}
    assert samples(registry, "deploysmoke_run_duration_seconds") == {(): 12.5}


def test_endpoint_latency_is_the_plugins_percentile_of_the_answered_calls() -> None:
    """Each endpoint's p50/p95/p99 come from perf.stats' histogram over its answered, non-warm-up calls, query left out."""
    latency = samples(build_registry(VERDICT), "deploysmoke_endpoint_latency_seconds")
    histogram = LatencyHistogram()
    for call in ITEMS:
        histogram.record(call.ms)
    expected = dict(zip(QUANTILES, histogram.percentiles((50.0, 95.0, 99.0)), strict=True))
    items = {
        dict(labels)["quantile"]: value for labels, value in latency.items() if ("endpoint", "GET /items") in labels
    }
    assert items == {quantile: ms / 1000 for quantile, ms in expected.items()}
    assert QUANTILES == ("0.5", "0.95", "0.99")
    assert items["0.95"] == pytest.approx(0.019, rel=0.01)  # nearest rank of 1..20 ms: 19 ms, within 1 %
    # GET /health: the 503 and the 200 got answers, the refused attempt did not.
    health = {
        dict(labels)["quantile"]: value for labels, value in latency.items() if ("endpoint", "GET /health") in labels
    }
    assert health["0.5"] == pytest.approx(0.008, rel=0.01)
    assert health["0.99"] == pytest.approx(0.040, rel=0.01)
    endpoints = {dict(labels)["endpoint"] for labels in latency}
    assert endpoints == {"GET /health", "GET /items", "GET /private"}  # not the blocked POST, not the db call


def test_endpoint_errors_count_what_the_error_rate_rule_counts() -> None:
    """deploysmoke_endpoint_errors_total counts attempts with no answer or a 5xx; a 4xx and a warm-up do not count."""
    registry = build_registry(VERDICT)
    assert samples(registry, "deploysmoke_endpoint_errors_total") == {
        (("endpoint", "GET /health"),): 2.0,
        (("endpoint", "GET /items"),): 0.0,
        (("endpoint", "GET /private"),): 0.0,
    }
    assert samples(registry, "deploysmoke_endpoint_requests_total") == {
        (("endpoint", "GET /health"),): 3.0,
        (("endpoint", "GET /items"),): 20.0,
        (("endpoint", "GET /private"),): 1.0,
    }


def test_endpoint_without_an_answer_has_errors_but_no_latency() -> None:
    """An endpoint whose every call went unanswered has its errors and no latency sample."""
    check = CheckResult(
        "t.py::test_down",
        "health",
        "Down",
        "failed",
        0.1,
        calls=(CallRecord("http", "GET /down", "timed out", ok=False, ms=5000.0),),
    )
    registry = build_registry(decide(RUN, phase_results(("health",), (), (check,)), (check,)))
    assert samples(registry, "deploysmoke_endpoint_latency_seconds") == {}
    assert samples(registry, "deploysmoke_endpoint_errors_total") == {(("endpoint", "GET /down"),): 1.0}


def test_label_values_go_through_the_redactor() -> None:
    """A secret in an endpoint path or a check's node id never reaches a label."""
    secret = "tok-0123456789abcdef"
    check = CheckResult(
        f"t.py::test_key[{secret}]",
        "features",
        "Key",
        "passed",
        0.1,
        calls=(CallRecord("http", f"GET /keys/{secret}?sig={secret}", "200", ok=True, ms=4.0),),
    )
    redactor = Redactor()
    redactor.add(secret)
    registry = build_registry(decide(RUN, phase_results(("features",), (), (check,)), (check,)), redactor.redact)
    text = generate_latest(registry).decode()
    assert secret not in text
    assert 'endpoint="GET /keys/***"' in text
    assert 'check="t.py::test_key[***]"' in text


def test_extra_labels_go_on_every_sample_without_overriding() -> None:
    """labels= (the metrics file's target) is on every sample; the verdict's own target label is kept."""
    registry = build_registry(VERDICT, labels=(("target", "prod"),))
    for family in registry.collect():
        for sample in family.samples:
            assert sample.labels["target"] == "prod", sample
    assert samples(registry, "deploysmoke_run_duration_seconds") == {(("target", "prod"),): 12.5}


WATCH_LOG = WatchLog(
    duration=30.0,
    every=15.0,
    planned=2,
    intervals=(
        WatchInterval(
            index=1,
            start=1_750_000_013.0,
            seconds=15.0,
            requests=30,
            errors=(("503", 2), ("connection refused", 1)),
            ws_connects=3,
            ws_failures=0,
            probes=(
                ProbeFigures("GET /health", 15, 1, 12.0, 40.0),
                ProbeFigures("GET /items", 15, 2, 20.0, 90.0, p95_limit_ms=1000.0),
            ),
            p95_ms=80.0,
            cpu=0.12,
            memory_bytes=45e6,
        ),
        WatchInterval(
            index=2,
            start=1_750_000_028.0,
            seconds=15.0,
            requests=30,
            errors=(("503", 3),),
            ws_connects=3,
            ws_failures=1,
            probes=(
                ProbeFigures("GET /health", 15, 3, 14.0, 55.0),
                ProbeFigures("GET /items", 15, 0, None, None),  # nothing answered: no p95
            ),
            p95_ms=55.0,
            cpu=0.08,
            memory_bytes=47e6,
        ),
    ),
)


def test_watch_log_is_summed_over_its_intervals() -> None:
    """Requests, errors by kind and WebSocket counts are the window's sums; the error rate is theirs."""
    registry = build_registry(replace(VERDICT, watch_log=WATCH_LOG))
    assert samples(registry, "deploysmoke_watch_intervals") == {(): 2.0}
    assert samples(registry, "deploysmoke_watch_requests_total") == {(): 60.0}
    assert samples(registry, "deploysmoke_watch_errors_total") == {
        (("kind", "503"),): 5.0,
        (("kind", "connection refused"),): 1.0,
    }
    assert samples(registry, "deploysmoke_watch_error_rate") == {(): pytest.approx(6 / 60)}
    assert samples(registry, "deploysmoke_watch_ws_connects_total") == {(): 6.0}
    assert samples(registry, "deploysmoke_watch_ws_failures_total") == {(): 1.0}


def test_watch_p95_cpu_and_memory_are_the_worst_interval() -> None:
    """Each probe's p95 is its highest of any interval, as are the target's CPU share and memory."""
    registry = build_registry(replace(VERDICT, watch_log=WATCH_LOG))
    assert samples(registry, "deploysmoke_watch_p95_seconds") == {
        (("probe", "GET /health"),): pytest.approx(0.055),
        (("probe", "GET /items"),): pytest.approx(0.090),
    }
    assert samples(registry, "deploysmoke_watch_target_cpu_ratio") == {(): 0.12}
    assert samples(registry, "deploysmoke_watch_target_memory_bytes") == {(): 47e6}


def test_watch_metrics_only_with_intervals() -> None:
    """Without a watch log, or with one that has no interval, there is no deploysmoke_watch_* metric;
    figures the window did not know (no requests, no metrics_url) are left out rather than shown as 0."""
    empty = replace(WATCH_LOG, intervals=())
    for verdict in (VERDICT, replace(VERDICT, watch_log=empty)):
        names = {family.name for family in build_registry(verdict).collect()}
        assert not {name for name in names if name.startswith("deploysmoke_watch")}
    quiet = replace(WATCH_LOG.intervals[0], requests=0, errors=(), probes=(), p95_ms=None, cpu=None, memory_bytes=None)
    names = {
        family.name
        for family in build_registry(replace(VERDICT, watch_log=replace(WATCH_LOG, intervals=(quiet,)))).collect()
    }
    assert "deploysmoke_watch_requests" in names
    assert not names & {
        "deploysmoke_watch_error_rate",
        "deploysmoke_watch_target_cpu_ratio",
        "deploysmoke_watch_target_memory_bytes",
    }


def full_verdict() -> Verdict:
    """A verdict with every figure a metric is made of: checks, calls, and a watch log with CPU and memory."""
    return replace(VERDICT, watch_log=WATCH_LOG)


def test_text_format_round_trips_without_created_samples() -> None:
    """The text format parses back to the same families, with no ``_created`` sample beside the counters."""
    registry = build_registry(full_verdict())
    parsed = {family.name: family for family in text_string_to_metric_families(generate_latest(registry).decode())}
    built = {family.name: family for family in registry.collect()}
    assert parsed.keys() == built.keys()
    for name, family in built.items():
        assert parsed[name].type == family.type
        assert [(s.name, s.labels, s.value) for s in parsed[name].samples] == [
            (s.name, s.labels, s.value) for s in family.samples
        ]
    assert not [s for family in parsed.values() for s in family.samples if s.name.endswith("_created")]


def test_doc_page_lists_every_metric() -> None:
    """docs/prometheus.md's metrics table names exactly the metrics a full verdict gives."""
    table = DOC.read_text(encoding="utf-8").split("## Metrics", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(deploysmoke_\w+)`", table, re.M))
    exposed = {sample.name for family in build_registry(full_verdict()).collect() for sample in family.samples}
    assert documented == exposed
