"""The watch window and the rollback rules: GO on a good deploy, ROLLBACK naming the rule on each fault."""

from __future__ import annotations

import fnmatch
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.fix_examples import replace_budgets, run_kifu

SCHEMA = Path(__file__).parents[2] / "pytest_deploysmoke" / "schemas" / "summary-1.schema.json"
WATCH = ("--deploy-phase=health", "--deploy-watch=6s", "--deploy-watch-every=2s")
KLINES = "GET /api/v1/market/klines?symbol=BTCUSDT&interval=1d&limit=5"
TICKERS = "WS /ws/tickers?symbols=BTCUSDT"


def lower_min_samples(kifu: pytest.Pytester) -> None:
    """min_samples = 3: a 2-second interval holds about 10 rounds, under the default minimum of 20.

    Not 5: with /health sleeping 250 ms (slow_health), a loaded machine fitted fewer than 5 rounds
    into the first interval, which then went unjudged and the window ran on to its second.
    """
    toml = kifu.path / "deploysmoke.toml"
    text = toml.read_text(encoding="utf-8")
    assert "min_samples = 20" in text
    toml.write_text(text.replace("min_samples = 20", "min_samples = 3"), encoding="utf-8")


HEALTH_BUDGET = ('"GET /health" = ["100ms", "500ms"]', '"GET /health" = ["10s", "20s"]')
KLINES_BUDGET = ('"GET /api/v1/market/klines" = ["500ms", "1s"]', '"GET /api/v1/market/klines" = ["10s", "20s"]')


def generous_budgets(kifu: pytest.Pytester, *, keep_health_target: bool = False) -> None:
    """Budgets of seconds for what a run is not about, so a loaded machine adds no failure and trips no other rule.

    The health check's budget and the klines target always; /health's 100 ms target (its p95 rule trips at
    200 ms) unless the run is about a slow /health, whose 250 ms sleep is above that rule on any machine.
    A loaded machine once took /health's p95 to 445 ms on a good deploy, and to 302 ms beside error_burst.
    """
    replace_budgets(kifu.path / "test_health.py", ('budget="1s"', 'budget="20s"'))
    replace_budgets(kifu.path / "deploysmoke.toml", KLINES_BUDGET, *(() if keep_health_target else (HEALTH_BUDGET,)))


def watch_run(kifu: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """The kifu health checks then a 6-second watch; the run's result and its validated JSON summary."""
    out = kifu.path / "summary.json"
    result = run_kifu(kifu, *WATCH, f"--deploy-json={out}", *args)
    summary = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(summary, json.loads(SCHEMA.read_text(encoding="utf-8")))
    return result, summary


def monitoring_rows(ticket: str) -> list[list[str]]:
    """The rows of the ticket's Monitoring table (header first, alignment row left out), cell by cell."""
    section = ticket.split("### Monitoring\n\n", 1)[1].split("\n### ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    return [rows[0], *rows[2:]]


class _MonitoringTable(HTMLParser):
    """The cells of the HTML report's monitoring table (``<section id="deploysmoke-monitoring">``), row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._inside = self._cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section" and ("id", "deploysmoke-monitoring") in attrs:
            self._inside = True
        elif self._inside and tag == "tr":
            self.rows.append([])
        elif self._inside and tag in ("td", "th"):
            self.rows[-1].append("")
            self._cell = True

    def handle_endtag(self, tag: str) -> None:
        self._cell = self._cell and tag not in ("td", "th")
        self._inside = self._inside and tag != "section"

    def handle_data(self, data: str) -> None:
        if self._cell:
            self.rows[-1][-1] += data


def test_good_deploy_stays_go_over_the_watch_window(kifu: pytest.Pytester) -> None:
    """On a good deploy the window prints one line per interval, trips no rule and the verdict stays GO;
    the ticket and the HTML report carry its monitoring table, the JSON each interval's figures."""
    generous_budgets(kifu)
    ticket, report = kifu.path / "ticket.md", kifu.path / "report.html"
    result, summary = watch_run(kifu, f"--deploy-ticket={ticket}", f"--html={report}", "--self-contained-html")
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
    verdict = summary["verdict"]
    assert (verdict["decision"], verdict["rollback"], verdict["warnings"]) == ("GO", [], []), verdict

    intervals = summary["watch"]["intervals"]
    assert (summary["watch"]["stopped"], len(intervals)) == (None, 3)
    for interval in intervals:
        assert list(interval["probes"]) == ["GET /health", KLINES, TICKERS]
        assert (interval["errors"], interval["error_rate"], interval["ws_failures"]) == ({}, 0.0, 0)
        assert interval["ws_connects"] == interval["probes"][TICKERS]["requests"] > 0
        assert interval["cpu"] is not None and interval["memory_bytes"] > 0  # the stand-in's own /metrics
    rows = monitoring_rows(ticket.read_text(encoding="utf-8"))
    assert rows[0] == [
        "Time (UTC)",
        "Requests",
        "Errors",
        "Error rate",
        "GET /health p50 / p95",
        f"{KLINES} p50 / p95",
        f"{TICKERS} p50 / p95",
        "WebSocket failures",
        "CPU",
        "Memory",
    ]
    assert len(rows) == 4
    for row, interval in zip(rows[1:], intervals, strict=True):
        assert row[:4] == [interval["start"][11:19], str(interval["requests"]), "0", "0%"]
        assert row[7] == f"0/{interval['ws_connects']}"
        assert row[8].endswith("%") and row[9] == f"{interval['memory_bytes'] / 2**20:.1f} MiB"
    html = _MonitoringTable()
    html.feed(report.read_text(encoding="utf-8"))
    assert html.rows == rows


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
    generous_budgets(kifu, keep_health_target=fault == "slow_health")
    result, summary = watch_run(kifu)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes().get("failed", 0) == 0  # the checks passed; the deploy did not
    result.stdout.fnmatch_lines([f"deploysmoke ROLLBACK: {reason}", f"deploysmoke verdict: ROLLBACK*: {reason}*"])
    result.stdout.no_fnmatch_line("*[[]2/3]*")
    assert summary["verdict"]["decision"] == "ROLLBACK"
    assert len(summary["verdict"]["rollback"]) == 1 and summary["verdict"]["rollback"][0].startswith(reason[:10])
    watch = summary["watch"]
    assert (watch["stopped"], len(watch["intervals"])) == ("rollback", 1)
    [interval] = watch["intervals"]
    probes = interval["probes"]
    if fault == "error_burst":  # every third klines request answers 500: the errors say so, by kind
        assert interval["errors"] == {"500": probes[KLINES]["errors"]} and probes[KLINES]["errors"] > 0
        result.stdout.fnmatch_lines([f"deploysmoke *[[]1/3]: * {probes[KLINES]['errors']} errors (*%: 500 x*)*"])
    elif fault == "slow_health":
        assert probes["GET /health"]["p95_ms"] > 200  # the rule's limit: twice the 100 ms target
    else:  # ws_close: every open is closed at once with 1011
        failures = interval["ws_failures"]
        assert failures == interval["ws_connects"] == probes[TICKERS]["errors"] > 0
        result.stdout.fnmatch_lines(
            [f"deploysmoke *[[]1/3]: *WebSocket failures {failures}/{failures} (closed code 1011 x{failures})*"]
        )


def test_interval_with_too_few_samples_warns_instead_of_rolling_back(
    kifu: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default min_samples of 20, a slow /health over a 2 s interval's ~10 samples is a warning, not ROLLBACK."""
    monkeypatch.setenv("KIFU_FAULTS", "slow_health")
    generous_budgets(kifu, keep_health_target=True)
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
    generous_budgets(kifu)
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
    result = run_kifu(kifu, "--deploy-phase=performance")
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
