"""The watch window and the rollback rules: GO on a good deploy, ROLLBACK naming the rule on each fault."""

from __future__ import annotations

import fnmatch
import json
import resource
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_deploysmoke.config.model import WatchProbe
from pytest_deploysmoke.config.parse import build_target, parse_config
from pytest_deploysmoke.errors import ConfigError
from pytest_deploysmoke.perf.rollback import EndpointFigures, Figures, RollbackRules, evaluate, phase_figures
from pytest_deploysmoke.perf.watch import Aggregate, ProbeSample, parse_process_metrics
from pytest_deploysmoke.results.records import CallRecord
from tests import test_kifu

kifu = test_kifu.kifu
SCHEMA = Path(__file__).parent.parent / "pytest_deploysmoke" / "schemas" / "summary-1.schema.json"
WATCH = ("--deploy-phase=health", "--deploy-watch=6s", "--deploy-watch-every=2s")


def lower_min_samples(kifu: pytest.Pytester) -> None:
    """min_samples = 5: a 2-second interval holds about 10 rounds, under the default minimum of 20."""
    toml = kifu.path / "deploysmoke.toml"
    text = toml.read_text(encoding="utf-8")
    assert "min_samples = 20" in text
    toml.write_text(text.replace("min_samples = 20", "min_samples = 5"), encoding="utf-8")


def watch_run(kifu: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """The kifu health checks then a 6-second watch; the run's result and its validated JSON summary."""
    out = kifu.path / "summary.json"
    result = test_kifu.run_kifu(kifu, *WATCH, f"--deploy-json={out}", *args)
    summary = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(summary, json.loads(SCHEMA.read_text(encoding="utf-8")))
    return result, summary


def test_good_deploy_stays_go_over_the_watch_window(kifu: pytest.Pytester) -> None:
    """On a good deploy the window prints one line per interval, trips no rule and the verdict stays GO."""
    result, summary = watch_run(kifu)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "deploysmoke watch window: 6.0 s, a line every 2.0 s; probes: GET /health, GET /api/v1/market/klines*",
            "deploysmoke *[[]1/3]: * requests, 0 errors (0%), p95 * ms, WebSocket failures 0/*, CPU * s (*%), RSS * MiB",
            "deploysmoke *[[]2/3]: *",
            "deploysmoke *[[]3/3]: *",
            "deploysmoke watch window 6.0 s, 3 of 3 intervals: * requests, 0 errors (0%)*; no rollback rule tripped",
        ]
    )
    assert summary["verdict"]["decision"] in ("GO", "GO with warnings")
    assert summary["verdict"]["rollback"] == []


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("error_burst", "error_rate *% >= 5% over * requests in the last interval"),
        (
            "slow_health",
            "p95_over_target GET /health p95 * ms > 2 x its 100 ms target (200 ms) over * requests in the last interval",
        ),
        ("ws_close", "ws_failure_rate 100% >= 10% over * WebSocket connects in the last interval"),
    ],
)
def test_fault_trips_its_rollback_rule(
    kifu: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fault: str, reason: str
) -> None:
    """Each fault stops the window after its first interval with ROLLBACK, the rule, the value and the threshold."""
    monkeypatch.setenv("KIFU_FAULTS", fault)
    lower_min_samples(kifu)
    result, summary = watch_run(kifu)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes().get("failed", 0) == 0  # the checks passed; the deploy did not
    result.stdout.fnmatch_lines([f"deploysmoke ROLLBACK: {reason}", f"deploysmoke verdict: ROLLBACK*: {reason}*"])
    result.stdout.no_fnmatch_line("*[[]2/3]*")
    assert summary["verdict"]["decision"] == "ROLLBACK"
    assert len(summary["verdict"]["rollback"]) == 1 and summary["verdict"]["rollback"][0].startswith(reason[:10])


def test_interval_with_too_few_samples_warns_instead_of_rolling_back(
    kifu: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default min_samples of 20, a slow /health over a 2 s interval's ~10 samples is a warning, not ROLLBACK."""
    monkeypatch.setenv("KIFU_FAULTS", "slow_health")
    result, summary = watch_run(kifu)
    assert result.ret == pytest.ExitCode.OK
    line = "p95_over_target GET /health not evaluated: * samples < 20 in interval 1 of 3 (p95 * ms, over 2 x its 100 ms target)"
    result.stdout.fnmatch_lines([f"deploysmoke {line}", "deploysmoke *[[]3/3]: *"])
    verdict = summary["verdict"]
    assert verdict["decision"] == "GO with warnings" and verdict["rollback"] == []
    [warning] = [w for w in verdict["warnings"] if "not evaluated" in w]
    assert fnmatch.fnmatchcase(warning, line + " (and in 2 more intervals)"), warning


def test_health_failing_after_the_checks_trips_the_consecutive_rule(
    kifu: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy whose /health degrades after the checks passed is caught by the window's health rule."""
    monkeypatch.setenv("KIFU_FAULTS", "health_dies_later")
    result, summary = watch_run(kifu)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes().get("failed", 0) == 0  # the health checks themselves passed
    rule = "health_consecutive_failures * >= 3: GET /health failed * times in a row in the last interval"
    result.stdout.fnmatch_lines([f"deploysmoke ROLLBACK: {rule}"])
    assert summary["verdict"]["decision"] == "ROLLBACK"
    assert any(reason.startswith("health_consecutive_failures ") for reason in summary["verdict"]["rollback"])


def test_slow_endpoint_in_the_performance_phase_is_rollback(
    kifu: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a watch window, a p95 over twice its target among the performance phase's calls is ROLLBACK."""
    monkeypatch.setenv("KIFU_FAULTS", "slow_health")
    lower_min_samples(kifu)  # the performance phase sends /health about a dozen times
    result = test_kifu.run_kifu(kifu, "--deploy-phase=performance")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*ROLLBACK: p95_over_target GET /health p95 * ms > 2 x its 100 ms target (200 ms) over * in the performance phase"
        ]
    )


def test_watch_is_skipped_after_a_no_go(kifu: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the checks already say NO-GO, the window does not run, and the output says so."""
    monkeypatch.setenv("KIFU_FAULTS", "health_503")
    result, summary = watch_run(kifu)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["deploysmoke watch window skipped: the checks already say NO-GO"])
    result.stdout.no_fnmatch_line("*[[]1/3]*")
    assert summary["verdict"]["decision"] == "NO-GO"


# --------------------------------------------------------------------------- the rules (pure)


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


def test_aggregates_hold_a_million_samples_in_fixed_memory() -> None:
    """A simulated long window: a million samples leave the histograms' size and the runner's memory flat."""
    probe = WatchProbe("http", "GET", "/health", health=True)
    window = Aggregate({"GET /health": 100.0})
    samples = [ProbeSample(probe, float(ms), ok=ms % 50 != 0) for ms in range(500)]  # 0 to 499 ms, 2 % errors
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    buckets = window.histogram.bucket_count
    for i in range(1_000_000):
        window.add(samples[i % 500], 0)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"ru_maxrss before {before} KiB, after {after} KiB", file=sys.stderr)
    assert window.requests == 1_000_000 and window.errors == 20_000
    assert window.histogram.bucket_count == buckets and window.endpoints["GET /health"].count == 1_000_000
    assert after - before < 16 * 1024  # a list of a million floats alone would take over 30 MiB
    (reason,) = evaluate(RollbackRules(), window.figures("w", "GET /health"))
    assert reason.startswith("p95_over_target GET /health p95 47")
    assert reason.endswith("ms > 2 x its 100 ms target (200 ms) over 1000000 requests in w")
