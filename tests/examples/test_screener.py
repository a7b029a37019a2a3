"""The screener example through the plugin: green on a good deploy, each bad deploy caught, prod untouched."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import pytest

from tests.fix_examples import (
    assert_regression_against_baseline,
    assert_slower_inside_budgets,
    assert_unchanged_against_baseline,
)
from tests.fix_pytester import TRACE_NOTE
from tests.fix_servers import free_port, start_standin, stop_process
from tests.fix_services import delete_keys

SCREENER = Path(__file__).parents[2] / "conftest_examples" / "screener"
SCHEMA = Path(__file__).parents[2] / "pytest_deploysmoke" / "schemas" / "summary-1.schema.json"
#: A short watch window: two intervals, the first of which is enough for a rule to trip.
WATCH = ("--deploy-watch=5s", "--deploy-watch-every=2.5s")
MARKETS = "GET /api/markets/krw"
ALL_CHECKS = 22  # the built-in required_env and version checks, and the example's 20


@pytest.fixture
def screener(pytester: pytest.Pytester, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.Pytester]:
    """The screener suite copied into a fresh project, with a Redis key prefix of its own (removed afterwards)."""
    shutil.copytree(SCREENER, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    prefix = f"screener-test-{uuid.uuid4().hex[:10]}:"
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SCREENER_REDIS_PREFIX", prefix)
    for name in ("SCREENER_FAULTS", "APP_VERSION", "RELEASE_VERSION"):
        monkeypatch.delenv(name, raising=False)
    yield pytester
    delete_keys(redis_url, prefix)


def run_screener(screener: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """Run the suite against its launched stand-in; the result and the run's validated JSON summary."""
    out = screener.path / "summary.json"
    result = screener.runpytest_subprocess(
        "--deploy-target=local", "-m", "smoke", "-rfEs", f"--deploy-json={out}", *args, timeout=120
    )
    summary = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(summary, json.loads(SCHEMA.read_text(encoding="utf-8")))
    return result, summary


def outcomes(summary: dict[str, Any], outcome: str) -> set[str]:
    return {check["nodeid"] for check in summary["checks"] if check["outcome"] == outcome}


def assert_readable(result: pytest.RunResult) -> None:
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output and "INTERNALERROR" not in output, output


def test_good_deploy_passes_every_check_and_stays_go_over_the_watch_window(screener: pytest.Pytester) -> None:
    """On a good deploy every checklist item passes, phase by phase, and a watch window trips no rule."""
    result, summary = run_screener(screener, *WATCH)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(passed=ALL_CHECKS)
    result.stdout.fnmatch_lines(
        [
            "deploysmoke watch window: 5.0 s, a line every 2.5 s; probes: GET /health, GET /api/markets/krw, "
            "GET /api/markets/krw/tickers, ws /ws/tickers/krw",
            "deploysmoke *[[]1/2]: * requests, 0 errors (0%), p95 * ms, WebSocket failures 0/*, "
            "CPU * s (*%), RSS * MiB",
            "deploysmoke *[[]2/2]: * requests, 0 errors (0%), *",
            "deploysmoke watch window 5.0 s, 2 of 2 intervals: *; no rollback rule tripped",
            "*preflight*PASSED*(gate)*2 passed*",
            "*health*PASSED*(gate)*4 passed*",
            "*features*PASSED*10 passed*",
            "*performance*PASSED*6 passed*",
        ]
    )
    assert [c["nodeid"] for c in summary["checks"] if c["rollback_rule"]] == []  # no data check tripped its rule
    # A warning is possible: the stream's 100 ms connect target on a busy two-core runner.
    assert summary["verdict"]["decision"] in ("GO", "GO with warnings"), summary["verdict"]
    assert summary["verdict"]["rollback"] == []
    assert_readable(result)


class Fault(NamedTuple):
    """What a fault switch must do to a run of the suite."""

    check: str  # the check named for it
    message: str  # that check's failure line (fnmatch pattern)
    phases: str  # the phases the run selects (--deploy-phase); "" for every phase
    collateral: frozenset[str]  # the other checks it fails, from the same cause
    decision: str  # the verdict
    rollback: str | None  # the first rollback reason (fnmatch pattern)
    gate: str | None = None  # the gate phase it fails


# A fault in a gate runs every phase, to show the skips; the others run the phases of the checks they
# touch, as when iterating on a fix, so that the file stays near a minute (the good run covers all).
FAULTS = {
    "health_503": Fault(
        "test_health.py::test_health_answers_200",
        "GET /health answered 503 in * ms, expected 200: *the indicator job is not running*",
        "",
        frozenset(),
        "NO-GO",
        None,
        gate="health",
    ),
    "ws_stall": Fault(
        "test_stream.py::test_stream_delivers_several_updates",
        "WS /ws/tickers/krw: no matching message within 2.5 s (0 messages received); is the stream publishing?",
        "features",  # the performance phase's stream check fails too, on its 1 s wait: a second more
        frozenset({"test_stream.py::test_stream_agrees_with_rest_tickers"}),
        # The agreement check has the data-integrity mark, but a silent stream gave it nothing to compare:
        # a failure to get an answer, so NO-GO, not a rollback for wrong data.
        "NO-GO",
        None,
    ),
    "filter_mismatch": Fault(
        "test_filter.py::test_filter_results_satisfy_the_filter",
        "POST /api/screener/filter for rsi_14 < 30 returned * that do not satisfy it: KRW-* (rsi_14 *; "
        # a list ends "KRW-X (rsi_14 n)", or "and N more" past three: the indicators change by the hour
        "and left out * that do: KRW-* (rsi_14 * (by GET /api/screener/indicators); "
        "the filter disagrees with the screener's own indicator data",
        "features",
        frozenset(),
        "ROLLBACK",
        "data integrity: test_filter.py::test_filter_results_satisfy_the_filter failed: "
        "POST /api/screener/filter for rsi_14 < 30 returned *",
    ),
    "tickers_no_ttl": Fault(
        "test_caches.py::test_tickers_cache_has_its_ttl",
        "redis key 'screener-test-*:tickers:krw' has no TTL (PTTL -1): it never expires, "
        "so GET /api/markets/krw/tickers serves the same data forever; the service must write it with an expiry",
        "features",
        frozenset({"test_stream.py::test_tickers_are_fresh"}),
        "ROLLBACK",
        "data integrity: test_stream.py::test_tickers_are_fresh failed: GET /api/markets/krw/tickers served "
        "the same tick for * s (now * s old), past the tickers cache's 3 s TTL: prices are stale; "
        "is the tickers cache written without its TTL?",
    ),
    "filter_slow": Fault(
        "test_performance.py::test_filter_response_time",
        "POST /api/screener/filter took 5.5* s, over its budget of 5.00 s (status 200); "
        "is it slower since this deploy, or is the budget too tight?",
        "performance",
        frozenset(),
        # One slow call is a failed check, not a p95: the p95 rule needs min_samples (20) calls.
        "NO-GO",
        None,
    ),
    "ws_refuse": Fault(
        "test_performance.py::test_ticker_stream_connect_and_first_message",
        "WS /ws/tickers/krw: handshake refused with HTTP 403 after * ms; is the stream up and ws_url right?",
        "features,performance",
        frozenset(
            {
                "test_stream.py::test_stream_delivers_several_updates",
                "test_stream.py::test_stream_agrees_with_rest_tickers",
            }
        ),
        # One refused open is a failed check, not a failure rate: that rule needs min_samples (20) opens.
        "NO-GO",
        None,
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_bad_deploy_is_caught_by_its_check(
    screener: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """Each fault fails the check written for it, readably, with the verdict its rules give; gate faults skip on.

    The runs ask for a watch window too: every fault is already NO-GO or ROLLBACK when the checks
    end, so the window is skipped and says why.  A refused stream fails its checks while the
    polling fallback still serves; its one refused open is too few samples for ws_failure_rate.
    """
    expected = FAULTS[fault]
    monkeypatch.setenv("SCREENER_FAULTS", fault)
    phases = [f"--deploy-phase={expected.phases}"] if expected.phases else []
    result, summary = run_screener(screener, *phases, *WATCH)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*{expected.message}", f"FAILED {expected.check} - *"])
    assert outcomes(summary, "failed") == {expected.check, *expected.collateral}, summary["verdict"]
    result.stdout.fnmatch_lines([f"deploysmoke watch window skipped: the checks already say {expected.decision}"])
    verdict = summary["verdict"]
    assert verdict["decision"] == expected.decision, verdict
    if expected.rollback is None:
        assert verdict["rollback"] == []
    else:
        result.stdout.fnmatch_lines([f"deploysmoke verdict: ROLLBACK*: {expected.rollback}*"])
        first = TRACE_NOTE.sub("", verdict["rollback"][0])  # a failed check's line ends with its trace
        assert fnmatch.fnmatchcase(first, expected.rollback), verdict["rollback"]
    # A failed check with a rollback mark is a reason of its own: the rule, the check and its line.
    for check in summary["checks"]:
        if check["outcome"] == "failed" and check["rollback_rule"]:
            reason = f"{check['rollback_rule']}: {check['nodeid']} failed: {check['message']}"
            assert reason in verdict["rollback"], verdict["rollback"]
    if fault == "ws_refuse":
        assert "test_stream.py::test_polling_fallback_serves_every_market" in outcomes(summary, "passed")
    if expected.gate is None:
        assert "later phases not run" not in result.stdout.str()
        assert not outcomes(summary, "skipped")
    else:
        result.stdout.fnmatch_lines([f"*gate '{expected.gate}' failed ({expected.check}); later phases not run*"])
        later = {c["nodeid"] for c in summary["checks"] if c["phase"] in ("features", "performance")}
        assert later and later == outcomes(summary, "skipped")
    assert_readable(result)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (
            "markets_slow",
            "p95_over_target GET /api/markets/krw p95 1* ms > 2 x its 500 ms target (1000 ms) "
            "over * requests in the last interval",
        ),
        ("error_burst", "error_rate *% >= 5% over * requests in the last interval"),
    ],
    ids=["markets_slow", "error_burst"],
)
def test_deploy_degrading_after_the_checks_is_rolled_back_by_the_watch_window(
    screener: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fault: str, reason: str
) -> None:
    """A markets endpoint past twice its target, or failing every third time, trips its rule in the first interval.

    The checklist's numbers make twice the markets target (2 x 500 ms) its maximum (1 s), so a
    markets endpoint slow enough for the rule also fails its budget in the checks, and a full run is
    NO-GO before any window.  The window is for what the checks cannot see: a deploy that degrades
    after them.  So, as in tests/examples/test_watch.py, the run checks health (which the faults leave alone)
    and then watches.
    """
    monkeypatch.setenv("SCREENER_FAULTS", fault)
    # A 2.5 s interval holds a few rounds (2 or 3 when markets take over a second), under the default 20.
    toml = screener.path / "deploysmoke.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("min_samples = 20", "min_samples = 1"), encoding="utf-8")
    result, summary = run_screener(screener, "--deploy-phase=health", *WATCH)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=4, deselected=ALL_CHECKS - 4)  # the checks pass; the deploy does not
    result.stdout.fnmatch_lines(
        [
            "deploysmoke *[[]1/2]: *",
            f"deploysmoke ROLLBACK: {reason}",
            "deploysmoke watch window 5.0 s, 1 of 2 intervals: *; stopped early: a rollback rule tripped",
            f"deploysmoke verdict: ROLLBACK*: {reason}",
        ]
    )
    result.stdout.no_fnmatch_line("*[[]2/2]*")
    assert summary["verdict"]["decision"] == "ROLLBACK"
    assert len(summary["verdict"]["rollback"]) == 1
    assert fnmatch.fnmatchcase(summary["verdict"]["rollback"][0], reason)
    assert_readable(result)


def test_markets_forty_percent_slower_pass_every_budget_yet_measure_slower(
    screener: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With slow_markets_40 the whole checklist passes, the markets inside their targets, yet their p50 is 1.3x a good one.

    Budgets cannot catch this release: only a comparison with the last release's run can, and the
    performance phase measures the market list 100 times for one.  The good deploy runs that phase only.
    """
    _, good = run_screener(screener, "--deploy-phase=performance")
    monkeypatch.setenv("SCREENER_FAULTS", "slow_markets_40")
    _, slowed = run_screener(screener)
    assert_slower_inside_budgets(good, slowed, "GET /api/markets/krw")


def test_markets_forty_percent_slower_are_a_rollback_against_a_good_runs_baseline(
    screener: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a good run's JSON, a good deploy is GO and slow_markets_40 a ROLLBACK naming the market list's shift.

    The runs are the performance phase, whose 60 market-list requests the comparison judges
    (``[targets.local.compare]``); a partial run keeps its decision, so GO is GO.
    """
    run_screener(screener, "--deploy-phase=performance")
    baseline = shutil.copy(screener.path / "summary.json", screener.path / "previous.json")
    again = ("--deploy-phase=performance", f"--deploy-baseline={baseline}")
    result, good = run_screener(screener, *again)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert good["verdict"]["decision"] == "GO", good["verdict"]
    assert_unchanged_against_baseline(good, MARKETS)
    monkeypatch.setenv("SCREENER_FAULTS", "slow_markets_40")
    result, slowed = run_screener(screener, *again)
    assert_regression_against_baseline(result, slowed, MARKETS, "ROLLBACK")
    assert_readable(result)


@pytest.fixture
def standing_screener(screener: pytest.Pytester) -> Iterator[str]:
    """The stand-in started by hand, as a deployed service runs: no [launch] on a production target."""
    port = free_port()
    env = {**os.environ, "APP_VERSION": "2.4.0"}
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "uvicorn", "screener_app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    process = start_standin(argv, screener.path, env, f"{url}/livez", screener.path / "standin.log")
    try:
        yield url
    finally:
        stop_process(process)


#: The screener checklist's health phase, then a 20-second watch window judged against the stable fleet.
COMPARE_LIVE = ("--deploy-phase=health", "--deploy-compare=stable", "--deploy-watch=20s", "--deploy-watch-every=5s")


def test_markets_forty_percent_slower_are_rolled_back_live_against_the_stable_fleet(
    screener: pytest.Pytester, standing_screener: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--deploy-compare in a 20-second window: the launched stand-in with slow_markets_40 (the canary) against a
    good one started by hand (the stable fleet) is ROLLBACK naming the market list; a good canary is GO."""
    toml = screener.path / "deploysmoke.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + f'\n[targets.stable]\nbase_url = "{standing_screener}"\n')
    monkeypatch.setenv("SCREENER_FAULTS", "slow_markets_40")
    _, slowed = run_screener(screener, *COMPARE_LIVE)
    verdict, comparison = slowed["verdict"], slowed["comparison"]
    assert verdict["decision"] == "ROLLBACK", verdict
    assert [line.split(" p50 ")[0] for line in verdict["rollback"]] == ["latency_regression: GET /api/markets/krw"]
    assert (comparison["baseline"]["kind"], comparison["baseline"]["target"]) == ("target", "stable")
    markets = next(row for row in comparison["endpoints"] if row["endpoint"] == "GET /api/markets/krw")
    assert markets["verdict"] == "regression" and min(markets["n_baseline"], markets["n_now"]) >= 50, markets

    monkeypatch.setenv("SCREENER_FAULTS", "")
    _, good = run_screener(screener, *COMPARE_LIVE)
    assert good["verdict"]["decision"] == "GO", good["verdict"]
    rows = good["comparison"]["endpoints"]
    assert [row["endpoint"] for row in rows if row["verdict"] == "regression"] == [], rows
    assert good["watch"]["stopped"] is None


#: Redis commands that only read; the smoke suite must send no other on production.
READ_COMMANDS = {"PING", "PTTL", "TTL", "GET", "EXISTS"}


def test_production_copy_writes_nothing(screener: pytest.Pytester, standing_screener: str) -> None:
    """Against a production = true copy every check runs and every call reads: GETs, the filter's declared-read POST."""
    toml = screener.path / "deploysmoke.toml"
    local = toml.read_text(encoding="utf-8")
    budgets = local.split("[targets.local.budgets]\n", 1)[1].split("\n\n", 1)[0]
    toml.write_text(
        local
        + f"""
[targets.prodcopy]
base_url = "{standing_screener}"
production = true
version = "2.4.0"
timeout = 10
redis_url = "${{REDIS_URL}}"
read_only_requests = ["POST /api/screener/filter"]

[targets.prodcopy.vars]
cache_prefix = "${{SCREENER_REDIS_PREFIX}}"
cache_keys = {{ markets = "markets:krw", tickers = "tickers:krw", screener = "screener:indicators" }}
max_price_move_per_second = 0.002

[targets.prodcopy.budgets]
{budgets}
""",
        encoding="utf-8",
    )
    out = screener.path / "summary.json"
    result = screener.runpytest_subprocess(
        "--deploy-target=prodcopy", "-m", "smoke", "-rs", f"--deploy-json={out}", timeout=120
    )
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert outcomes(summary, "failed") == set(), result.stdout.str()
    assert not any(c["guard_blocked"] for c in summary["checks"])
    assert len(outcomes(summary, "passed")) == ALL_CHECKS - 1  # no required_env on this copy
    calls = [call for check in summary["checks"] for call in check["calls"]]
    http = [call["action"] for call in calls if call["kind"] == "http"]
    writes = [action for action in http if action.split(" ", 1)[0] not in ("GET", "LOAD")]
    assert http and set(writes) == {"POST /api/screener/filter"}, http
    commands = {call["action"].split(" ", 1)[0] for call in calls if call["kind"] == "redis"}
    assert commands and commands <= READ_COMMANDS, commands
    assert_readable(result)
