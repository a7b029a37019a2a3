"""The kifu example through the plugin: green on a good deploy, each bad deploy caught, prod untouched."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fix_browser import CHROMIUM, report_page
from tests.fix_examples import (
    assert_regression_against_baseline,
    assert_slower_inside_budgets,
    assert_unchanged_against_baseline,
    read_summary,
    run_kifu,
)
from tests.fix_servers import free_port, start_standin, stop_process
from tests.fix_services import row_counts

KLINES = "GET /api/v1/market/klines"
TABLES = ("users", "bubbles", "runs", "summary_packs", "trades")
UI_CHECKS = (
    "test_ui.py::test_landing_page_loads",
    "test_ui.py::test_login_page_shows_its_form",
    "test_ui.py::test_smoke_account_logs_in_through_the_form",
    "test_ui.py::test_home_tab_shows_the_summary_cards",
    "test_ui.py::test_chart_tab_draws_the_btcusdt_chart",
    "test_ui.py::test_review_tab_lists_the_chart_notes",
    "test_ui.py::test_portfolio_tab_shows_the_positions",
)
LOGIN_THROUGH_THE_FORM = "test_ui.py::test_smoke_account_logs_in_through_the_form"
SMOKE_PASSWORD = "smoke-Pw-4711-zq"  # the default of SMOKE_PASSWORD in deploysmoke.toml


def failed_checks(result: pytest.RunResult) -> set[str]:
    """The checks the short summary (``-rfE``) lists as failed or in error."""
    return {line.split(" ")[1] for line in result.outlines if line.startswith(("FAILED ", "ERROR "))}


def shown_screenshots(report: Path) -> dict[str, tuple[str, int]]:
    """Open the HTML report in headless Chromium and expand each UI check's row, as a reader does.

    Returns, per UI check, the start of the ``src`` of the visible screenshot in its row, and the
    image's natural width (0 when it did not load).
    """
    shown = {}
    with report_page(report) as page:
        for nodeid in UI_CHECKS:
            row = page.locator(f'#results-table tbody.results-table-row[id="{nodeid}"]')
            row.locator("tr.collapsible").click()  # passed rows start collapsed (render_collapsed in pytest.ini)
            image = row.locator(".media img")
            image.wait_for(state="visible")
            source, width = image.evaluate("img => [img.getAttribute('src'), img.complete ? img.naturalWidth : 0]")
            shown[nodeid] = (source[:22], width)
    return shown


def test_good_deploy_passes_every_check(kifu: pytest.Pytester) -> None:
    """On a good deploy every checklist item passes, phase by phase, and the report shows each screen."""
    report = kifu.path / "report.html"
    result = run_kifu(kifu, f"--html={report}", "--self-contained-html")
    result.assert_outcomes(passed=36)  # with deploysmoke::version: the target sets version
    result.stdout.fnmatch_lines(
        [
            "*preflight*PASSED*(gate)*4 passed*",
            "*migrations*PASSED*(gate)*5 passed*",
            "*health*PASSED*(gate)*4 passed*",
            "*auth*PASSED*(gate)*4 passed*",
            "*features*PASSED*10 passed*",
            "*ui*PASSED*7 passed*",
            "*performance*PASSED*2 passed*",
        ]
    )
    for text in (result.stdout.str(), report.read_text(encoding="utf-8")):
        assert SMOKE_PASSWORD not in text  # typed into the login form, but never shown
    shown = shown_screenshots(report)
    assert all(source == "data:image/png;base64," for source, _ in shown.values()), shown
    assert all(width > 0 for _, width in shown.values()), f"a screenshot does not load as an image: {shown}"


@dataclass(frozen=True)
class Fault:
    """What a fault switch breaks: every check that fails (and no other), and their one-line messages."""

    failed: tuple[str, ...]
    messages: tuple[str, ...]
    gate: str | None = None  # the gate phase that fails, skipping every later phase
    phases: tuple[str, ...] = ()  # run only these phases (--deploy-phase); all when empty


KLINES_500 = "answered 500 in * ms, expected 200: *upstream_error*"
FAULTS = {
    "missing_migration_021": Fault(
        ("test_migrations.py::test_users_ai_allowlisted_column_exists",),
        ("missing columns on public.users: ai_allowlisted; did the migrations run?",),
        gate="migrations",
    ),
    "health_503": Fault(
        ("test_health.py::test_health_answers_200",),
        ("GET /health answered 503 in * ms, expected 200: *degraded*",),
        gate="health",
    ),
    "login_500": Fault(
        (
            "test_auth.py::test_new_user_can_register",
            "test_auth.py::test_new_user_can_log_in",
            "test_auth.py::test_smoke_account_can_log_in",
            "test_auth.py::test_users_me_answers_for_the_smoke_account",
        ),
        (
            "login POST /api/v1/auth/login (JSON body: email, password) as smoke-*@kifu.example answered 500: *; "
            "the login endpoint itself failed; the service's logs say why",
        ),
        gate="auth",
    ),
    "klines_empty": Fault(
        ("test_features.py::test_klines_have_five_daily_candles",),
        (
            "GET */api/v1/market/klines?symbol=BTCUSDT&interval=1d&limit=5 JSON differs from what was expected: "
            "$: expected 5 items, got 0",
        ),
        phases=("features",),  # the chart screen fails too ("no BTCUSDT candles to draw"); chart_500 shows it
    ),
    "pack_stuck": Fault(
        (
            "test_features.py::test_summary_pack_is_generated_from_the_sync_run",
            "test_features.py::test_latest_pack_is_the_new_one",
            "test_features.py::test_pack_can_be_read_by_id",
        ),
        (
            "*poll_until(pack_status): condition not met after * attempts in * s (timeout 5 s, every 0.1 s); "
            "last value: *pending*",
        ),
        phases=("features",),
    ),
    "ws_close": Fault(
        ("test_stream.py::test_first_ticker_arrives_within_two_seconds",),
        (
            "WS /ws/tickers?symbols=BTCUSDT: closed by the server with code 1011 (upstream unavailable) "
            "after * ms, before the first message; the server's logs say why",
        ),
        phases=("features",),
    ),
    "slow_summary": Fault(
        ("test_features.py::test_trades_summary_answers",),
        ("GET /api/v1/trades/summary took *.* s, over its budget of 1.00 s (status 200); *",),
        phases=("features",),
    ),
    # The faults of the screens fail their screen's check, with what the page did.
    "review_tab_throws": Fault(
        ("test_ui.py::test_review_tab_lists_the_chart_notes",),
        (
            "UI /home: #review-list li not visible after * s; 1 problem on the page: "
            "uncaught TypeError: Cannot read properties of undefined (reading 'map')",
        ),
        phases=("ui",),
    ),
    # Every klines call answers 500: the features check of klines, the chart screen and the klines percentiles.
    "chart_500": Fault(
        (
            "test_features.py::test_klines_have_five_daily_candles",
            "test_ui.py::test_chart_tab_draws_the_btcusdt_chart",
            "test_performance.py::test_klines_percentiles",
        ),
        (
            f"GET /api/v1/market/klines?symbol=BTCUSDT&interval=1d&limit=5 {KLINES_500}",
            "UI /home: #chart-svg not visible after * s; 2 problems on the page: "
            "GET /api/v1/market/klines?symbol=BTCUSDT&interval=1d&limit=30 answered 500 (fetch); "
            "console error: chart tab failed: /api/v1/market/klines answered 500 (/home:*)",
            "GET /api/v1/market/klines?symbol=BTCUSDT&interval=1d&limit=5: 100 requests (+1 warm-up), *; "
            "100 errors: 500 x100 (100.0%); the endpoint fails under repeated requests: the service's logs say why",
        ),
        phases=("features", "ui", "performance"),
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_bad_deploy_is_caught_by_its_check(
    kifu: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """Each fault switch fails exactly the checks written for it, one readable line each; a gate skips the rest."""
    expected = FAULTS[fault]
    monkeypatch.setenv("KIFU_FAULTS", fault)
    result = run_kifu(kifu, *(f"--deploy-phase={phase}" for phase in expected.phases))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert failed_checks(result) == set(expected.failed), result.stdout.str()
    for message in expected.messages:
        result.stdout.fnmatch_lines([message])  # a line of its own in FAILURES: no traceback around it
    output = result.stdout.str()
    assert "Traceback" not in output and "INTERNALERROR" not in output
    if expected.gate is None:
        assert "later phases not run" not in output
    else:
        result.stdout.fnmatch_lines([f"*gate '{expected.gate}' failed (*); later phases not run*"])
        assert result.parseoutcomes()["skipped"] >= 1


def kifu_summary(kifu: pytest.Pytester, *args: str) -> dict[str, Any]:
    """Run the suite (``run_kifu``) with a JSON summary; the summary, validated against the schema."""
    out = kifu.path / "summary.json"
    result = run_kifu(kifu, f"--deploy-json={out}", *args)
    assert out.exists(), f"the run wrote no summary (exit code {result.ret}):\n{result.stdout.str()}"
    return read_summary(out)


def test_klines_forty_percent_slower_pass_every_budget_yet_measure_slower(
    kifu: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With slow_klines_40 the whole checklist passes, the klines inside their targets, yet their p50 is 1.3x a good one.

    Budgets cannot catch this release: only a comparison with the last release's run can, and the
    performance phase measures the klines 100 times for one.  The good deploy runs that phase only.
    """
    good = kifu_summary(kifu, "--deploy-phase=performance")
    monkeypatch.setenv("KIFU_FAULTS", "slow_klines_40")
    slowed = kifu_summary(kifu)
    assert_slower_inside_budgets(good, slowed, "GET /api/v1/market/klines")


def test_klines_forty_percent_slower_are_a_rollback_or_as_configured_a_no_go_against_a_good_runs_baseline(
    kifu: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a good run's JSON, a good deploy is GO and slow_klines_40 a ROLLBACK naming the klines' shift.

    With KIFU_ON_REGRESSION=no-go (the example's ``on_regression``) the same release is a NO-GO.
    The runs are the performance phase, whose 100 klines requests the comparison judges
    (``[targets.local.compare]``); a partial run keeps its decision, so GO is GO.
    """
    baseline = kifu.path / "previous.json"
    assert run_kifu(kifu, "--deploy-phase=performance", f"--deploy-json={baseline}").ret == pytest.ExitCode.OK
    again = ("--deploy-phase=performance", f"--deploy-baseline={baseline}")
    result = run_kifu(kifu, *again, f"--deploy-json={kifu.path / 'good.json'}")
    good = read_summary(kifu.path / "good.json")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert good["verdict"]["decision"] == "GO", good["verdict"]
    assert_unchanged_against_baseline(good, KLINES)
    monkeypatch.setenv("KIFU_FAULTS", "slow_klines_40")
    for on_regression, decision in (("rollback", "ROLLBACK"), ("no-go", "NO-GO")):
        monkeypatch.setenv("KIFU_ON_REGRESSION", on_regression)
        out = kifu.path / f"slowed-{on_regression}.json"
        result = run_kifu(kifu, *again, f"--deploy-json={out}")
        assert_regression_against_baseline(result, read_summary(out), KLINES, decision)
        assert "Traceback" not in result.stdout.str() and "INTERNALERROR" not in result.stdout.str()


@pytest.fixture
def standing_kifu(kifu: pytest.Pytester, fresh_db: str, redis_url: str) -> Iterator[str]:
    """The stand-in started by hand, as a deployed service is: no [launch] on a production target."""
    port = free_port()
    env = {
        **os.environ,
        "JWT_SECRET": "kifu-production-copy-secret-0123456789",
        "APP_VERSION": "1.8.0",
        "SMOKE_PASSWORD": SMOKE_PASSWORD,
    }
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "uvicorn", "kifu_app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    process = start_standin(argv, kifu.path, env, f"{url}/livez", kifu.path / "standin.log")
    try:
        yield url
    finally:
        stop_process(process)


#: The kifu checklist's health phase, then a 20-second watch window judged against the stable fleet.
COMPARE_LIVE = ("--deploy-phase=health", "--deploy-compare=stable", "--deploy-watch=20s", "--deploy-watch-every=5s")


def test_klines_forty_percent_slower_are_rolled_back_live_against_the_stable_fleet(
    kifu: pytest.Pytester, standing_kifu: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--deploy-compare in a 20-second window: the launched stand-in with slow_klines_40 (the canary) against a good
    one started by hand (the stable fleet) is ROLLBACK naming the klines and their shift; a good canary is GO."""
    toml = kifu.path / "deploysmoke.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + f'\n[targets.stable]\nbase_url = "{standing_kifu}"\n')
    monkeypatch.setenv("KIFU_FAULTS", "slow_klines_40")
    slowed = kifu_summary(kifu, *COMPARE_LIVE)
    verdict, comparison = slowed["verdict"], slowed["comparison"]
    assert verdict["decision"] == "ROLLBACK", verdict
    assert [line.split(" p50 ")[0] for line in verdict["rollback"]] == [
        "latency_regression: GET /api/v1/market/klines"
    ], verdict
    assert (comparison["baseline"]["kind"], comparison["baseline"]["target"]) == ("target", "stable")
    klines = next(row for row in comparison["endpoints"] if row["endpoint"] == "GET /api/v1/market/klines")
    assert klines["verdict"] == "regression" and min(klines["n_baseline"], klines["n_now"]) >= 50, klines

    monkeypatch.setenv("KIFU_FAULTS", "")
    good = kifu_summary(kifu, *COMPARE_LIVE)
    assert good["verdict"]["decision"] == "GO", good["verdict"]
    rows = good["comparison"]["endpoints"]
    assert [row["endpoint"] for row in rows if row["verdict"] == "regression"] == [], rows
    assert good["watch"]["stopped"] is None


def requests_served(log: Path) -> list[tuple[str, str]]:
    """The method and path of every request in the stand-in's uvicorn access log."""
    served = re.findall(r'"([A-Z]+) (\S+) HTTP/[\d.]+" \d{3}', log.read_text(encoding="utf-8", errors="replace"))
    return [(method, path) for method, path in served]


def test_production_copy_runs_no_destructive_check_and_writes_nothing(
    kifu: pytest.Pytester, fresh_db: str, standing_kifu: str
) -> None:
    """Against a production = true copy, destructive checks (the form login too) do not run, and nothing writes.

    The screens still open in the browser, logged in through the token, and no page sends anything but GET:
    the only write the stand-in sees is the run's own login, which the guard allows.
    """
    toml = kifu.path / "deploysmoke.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8")
        + f"""
[targets.prodcopy]
base_url = "{standing_kifu}"
production = true
version = "1.8.0"
timeout = 5
database_url = "${{DATABASE_URL}}"
redis_url = "${{REDIS_URL}}"

[targets.prodcopy.auth]
login_path = "/api/v1/auth/login"
username = "${{SMOKE_USER}}"
password = "{SMOKE_PASSWORD}"
username_field = "email"

[targets.prodcopy.ui]
browser_path = "{CHROMIUM}"
token_storage = "localStorage:kifu_token"
""",
        encoding="utf-8",
    )
    before = row_counts(fresh_db, TABLES)
    result = kifu.runpytest_subprocess(
        "--deploy-target=prodcopy", "-m", "smoke", "--deploy-json=summary.json", "-rs", timeout=120
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*destructive check(s) not run on production (by design): target 'prodcopy' is production*",
            f"    - {LOGIN_THROUGH_THE_FORM}",
        ]
    )
    checks = json.loads((kifu.path / "summary.json").read_text(encoding="utf-8"))["checks"]
    ui = {check["nodeid"]: check for check in checks if check["phase"] == "ui"}
    assert {nodeid: check["outcome"] for nodeid, check in ui.items()} == {
        nodeid: "skipped" if nodeid == LOGIN_THROUGH_THE_FORM else "passed" for nodeid in UI_CHECKS
    }
    assert ui[LOGIN_THROUGH_THE_FORM]["guard_blocked"] is True
    assert [call for check in checks for call in check["calls"] if call["outcome"] == "blocked"] == []
    writes = [(method, path) for method, path in requests_served(kifu.path / "standin.log") if method != "GET"]
    assert writes == [("POST", "/api/v1/auth/login")]
    assert ("GET", "/home") in requests_served(kifu.path / "standin.log")  # the screens did open
    assert row_counts(fresh_db, TABLES) == before


def test_gate_fault_is_no_go_in_every_artifact(kifu: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """With /health failing, the HTML, the ticket, the JSON and the JUnit XML all say NO-GO and name the gate."""
    import xml.etree.ElementTree as ET

    monkeypatch.setenv("KIFU_FAULTS", "health_503")
    out = kifu.path / "out"
    result = run_kifu(
        kifu,
        f"--html={out / 'report.html'}",
        "--self-contained-html",
        f"--deploy-ticket={out / 'ticket.md'}",
        f"--deploy-json={out / 'summary.json'}",
        f"--junitxml={out / 'junit.xml'}",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    gate = "gate 'health' failed (test_health.py::test_health_answers_200)"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["verdict"]["decision"] == "NO-GO" and summary["verdict"]["reasons"][0].startswith(gate)
    ticket = (out / "ticket.md").read_text(encoding="utf-8")
    assert ticket.splitlines()[0].startswith("## ❌ NO-GO: local") and gate in ticket
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["deploysmoke.verdict"] == "NO-GO"
    assert gate in str(properties["deploysmoke.verdict.headline"])
    html = (out / "report.html").read_text(encoding="utf-8")
    banner = html.split('class="deploysmoke-verdict', 1)[1][:2000]  # the verdict banner, before the results
    assert "NO-GO" in banner and "gate &#x27;health&#x27; failed (test_health.py::test_health_answers_200)" in banner
