"""The watch window's parts and the rollback rules, on given figures: no server, no window."""

from __future__ import annotations

import gc
import sys
from types import ModuleType
from typing import Any

import pytest

from pytest_deploysmoke.config.model import WatchProbe
from pytest_deploysmoke.config.parse import build_target, parse_config
from pytest_deploysmoke.errors import ConfigError
from pytest_deploysmoke.perf.rollback import EndpointFigures, Figures, RollbackRules, evaluate, phase_figures
from pytest_deploysmoke.perf.watch import Aggregate, ProbeSample, parse_process_metrics
from pytest_deploysmoke.results.records import CallRecord


def test_error_rate_rule_names_value_threshold_and_scope() -> None:
    """error_rate trips at the threshold, with the measured rate, the threshold and the request count."""
    rules = RollbackRules()
    assert evaluate(rules, Figures("the last interval", requests=40, errors=5)) == (
        "error_rate 12.5% >= 5% over 40 requests in the last interval",
    )
    assert evaluate(rules, Figures("the last interval", requests=40, errors=1)) == ()
    assert evaluate(rules, Figures("the last interval", requests=20, errors=1))[0].startswith("error_rate 5% >= 5%")


def test_p95_ws_and_health_rules() -> None:
    """The p95, WebSocket and health rules trip only past their thresholds."""
    # min_samples = 10: the 10 WebSocket opens are enough to judge (the default minimum is 20).
    rules = RollbackRules(p95_over_target=2.0, ws_failure_rate=0.1, health_consecutive_failures=3, min_samples=10)
    slow = EndpointFigures("GET /x", 20, 1001.0, 500.0)
    fine = EndpointFigures("GET /y", 20, 1000.0, 500.0)
    figures = Figures("w", ws_connects=10, ws_failures=1, health_streak=3, endpoints=(slow, fine))
    assert evaluate(rules, figures) == (
        "p95_over_target GET /x p95 1001 ms > 2 x its 500 ms target (1000 ms) over 20 requests in w",
        "ws_failure_rate 10% >= 10% over 10 WebSocket connects in w",
        "health_consecutive_failures 3 >= 3: GET /health failed 3 times in a row in w",
    )
    assert evaluate(rules, Figures("w", ws_connects=11, ws_failures=1, health_streak=2)) == ()


def test_phase_figures_take_p95_per_endpoint_from_call_records() -> None:
    """The performance phase's calls give the error count and a p95 per endpoint with a target."""
    calls = [CallRecord("http", f"GET /h?i={i}", "200", ok=True, ms=10.0 + i, target_ms=5.0) for i in range(20)]
    calls.append(CallRecord("http", "GET /e", "500", ok=False, ms=1.0))
    calls.append(CallRecord("ws", "connect /ws", "refused", ok=False, ms=1.0))
    figures = phase_figures("p", calls)
    assert (figures.requests, figures.errors, figures.ws_connects, figures.ws_failures) == (21, 1, 1, 1)
    assert figures.endpoints == (EndpointFigures("GET /h", 20, 28.0, 5.0),)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"watch": {"duraton": "1s"}}, "[targets.a.watch] unknown key 'duraton'; did you mean 'duration'?"),
        ({"watch": {"probes": ["POST /x"]}}, "probe 'POST /x' uses POST; the watch window only reads: GET or HEAD"),
        ({"watch": {"every": "0s"}}, "[targets.a.watch] every is '0s'; expected an interval > 0"),
        ({"rollback": {"error_rate": 5}}, "[targets.a.rollback] error_rate is int 5; expected a percentage"),
        ({"rollback": {"eror_rate": "5%"}}, "did you mean 'error_rate'?"),
        ({"rollback": {"health_consecutive_failures": 0}}, "expected a whole number of failures (1 or more)"),
        (
            {"rollback": {"min_samples": 0}},
            "[targets.a.rollback] min_samples is int 0; expected a whole number of samples",
        ),
        ({"rollback": {"min_samples": "20"}}, "expected a whole number of samples (1 or more)"),
        ({"rollback": {"min_sample": 20}}, "unknown key 'min_sample'; did you mean 'min_samples'?"),
    ],
)
def test_bad_watch_and_rollback_keys_are_refused(table: dict[str, Any], message: str) -> None:
    """Watch and rollback keys are validated like every other target key."""
    with pytest.raises(ConfigError) as excinfo:
        build_target(parse_config({"targets": {"a": {"base_url": "http://127.0.0.1:9", **table}}}, None), "a", {})
    assert message in str(excinfo.value)


def test_parse_process_metrics_reads_cpu_and_memory() -> None:
    """process_cpu_seconds_total and process_resident_memory_bytes come out of Prometheus text."""
    text = (
        "# TYPE process_cpu_seconds counter\nprocess_cpu_seconds_total 1.5\n"
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1048576.0\n"
    )
    assert parse_process_metrics(text) == (1.5, 1048576.0)


def retained_bytes(root: object) -> int:
    """The size of everything *root* keeps alive (each object once; classes and modules left out)."""
    seen: set[int] = set()
    stack, total = [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, ModuleType)):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def test_aggregates_hold_a_long_window_in_fixed_memory() -> None:
    """A simulated long window: 200,000 samples keep the aggregate exactly as large as its first 10,000 did."""
    probe = WatchProbe("http", "GET", "/health", health=True)
    window = Aggregate({"GET /health": 100.0})
    samples = [ProbeSample(probe, float(ms), ok=ms % 50 != 0) for ms in range(500)]  # 0 to 499 ms, 2 % errors
    buckets = window.histogram.bucket_count
    for i in range(10_000):
        window.add(samples[i % 500], 0)
    early = retained_bytes(window)
    for i in range(10_000, 200_000):
        window.add(samples[i % 500], 0)
    # Keeping each sample, even as one 8-byte pointer, would add over 1.5 MB here.
    assert retained_bytes(window) - early < 1024, f"{early} bytes after 10,000 samples, {retained_bytes(window)} after"
    assert window.requests == 200_000 and window.errors == 4_000
    assert window.histogram.bucket_count == buckets and window.endpoints["GET /health"].count == 200_000
    (reason,) = evaluate(RollbackRules(), window.figures("w", "GET /health"))
    assert reason.startswith("p95_over_target GET /health p95 47")
    assert reason.endswith("ms > 2 x its 100 ms target (200 ms) over 200000 requests in w")
