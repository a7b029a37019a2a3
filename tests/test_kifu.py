"""The kifu example through the plugin: green on a good deploy, each bad deploy caught, prod untouched."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.conftest import _free_port, start_standin, stop_process

KIFU = Path(__file__).parent.parent / "conftest_examples" / "kifu"
TABLES = ("users", "bubbles", "runs", "summary_packs", "trades")


@pytest.fixture
def kifu(pytester: pytest.Pytester, fresh_db: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The kifu suite copied into a fresh project, pointed at its own database and smoke account."""
    shutil.copytree(KIFU, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    monkeypatch.setenv("REDIS_URL", redis_url)
    # A smoke account of its own, so the stand-in's login rate limit (per email, in Redis) never trips.
    monkeypatch.setenv("SMOKE_USER", f"smoke-{uuid.uuid4().hex[:8]}@kifu.example")
    monkeypatch.delenv("KIFU_FAULTS", raising=False)
    return pytester


def run_kifu(kifu: pytest.Pytester, *args: str) -> pytest.RunResult:
    return kifu.runpytest_subprocess("--deploy-target=local", "-m", "smoke", "-rfEs", *args, timeout=120)


def test_good_deploy_passes_every_check(kifu: pytest.Pytester) -> None:
    """On a good deploy every checklist item passes, phase by phase."""
    result = run_kifu(kifu)
    result.assert_outcomes(passed=28)
    result.stdout.fnmatch_lines(
        [
            "*preflight*PASSED*(gate)*4 passed*",
            "*migrations*PASSED*(gate)*5 passed*",
            "*health*PASSED*(gate)*3 passed*",
            "*auth*PASSED*(gate)*4 passed*",
            "*features*PASSED*10 passed*",
            "*performance*PASSED*2 passed*",
        ]
    )


FAULTS = {
    "missing_migration_021": (
        "test_migrations.py::test_users_ai_allowlisted_column_exists",
        "missing columns on public.users: ai_allowlisted; did the migrations run?",
        "migrations",
    ),
    "health_503": (
        "test_health.py::test_health_answers_200",
        "GET http://127.0.0.1:*/health answered 503 in * ms, expected 200: *degraded*",
        "health",
    ),
    "login_500": (
        "test_auth.py::test_*",
        "login POST /api/v1/auth/login as smoke-*@kifu.example answered 500: *; "
        "the login endpoint itself failed; the service's logs say why",
        "auth",
    ),
    "klines_empty": (
        "test_features.py::test_klines_have_five_daily_candles",
        "GET */api/v1/market/klines?symbol=BTCUSDT&interval=1d&limit=5 JSON differs from what was expected: "
        "$: expected 5 items, got 0",
        None,
    ),
    "pack_stuck": (
        "test_features.py::test_summary_pack_is_generated_from_the_sync_run",
        "*poll_until(pack_status): condition not met after * attempts in * s (timeout 5 s, every 0.1 s); "
        "last value: *pending*",
        None,
    ),
    "ws_close": (
        "test_stream.py::test_first_ticker_arrives_within_two_seconds",
        "WS /ws/tickers?symbols=BTCUSDT: closed by the server with code 1011 (upstream unavailable) "
        "after * ms, before the first message; the server's logs say why",
        None,
    ),
    "slow_summary": (
        "test_features.py::test_trades_summary_answers",
        "GET /api/v1/trades/summary took 1.5* s, over its budget of 1.00 s (status 200); *",
        None,
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_bad_deploy_is_caught_by_its_check(
    kifu: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """Each fault switch fails the check written for it, readably; a fault in a gate skips later phases."""
    check, message, gate = FAULTS[fault]
    monkeypatch.setenv("KIFU_FAULTS", fault)
    result = run_kifu(kifu)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*{check}*"])
    result.stdout.fnmatch_lines([f"*{message}"])
    output = result.stdout.str()
    assert "Traceback" not in output and "INTERNALERROR" not in output
    if gate is None:
        assert "later phases not run" not in output
    else:
        result.stdout.fnmatch_lines([f"*gate '{gate}' failed (*); later phases not run*"])
        assert result.parseoutcomes()["skipped"] >= 1


@pytest.fixture
def standing_kifu(kifu: pytest.Pytester, fresh_db: str, redis_url: str) -> Iterator[str]:
    """The stand-in started by hand, as a deployed service is: no [launch] on a production target."""
    port = _free_port()
    env = {
        **os.environ,
        "JWT_SECRET": "kifu-production-copy-secret-0123456789",
        "APP_VERSION": "1.8.0",
        "SMOKE_PASSWORD": "smoke-password-123",
    }
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "uvicorn", "kifu_app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    process = start_standin(argv, kifu.path, env, f"{url}/livez", kifu.path / "standin.log")
    try:
        yield url
    finally:
        stop_process(process)


def row_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        return {
            table: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]  # type: ignore[index]  # count(*) always returns a row
            for table in TABLES
        }


def test_production_copy_runs_no_destructive_check_and_writes_nothing(
    kifu: pytest.Pytester, fresh_db: str, standing_kifu: str
) -> None:
    """Against a production = true copy, destructive checks are listed as not run and no table gains a row."""
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
password = "smoke-password-123"
username_field = "email"
""",
        encoding="utf-8",
    )
    before = row_counts(fresh_db)
    result = kifu.runpytest_subprocess("--deploy-target=prodcopy", "-m", "smoke", timeout=120)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*destructive check(s) NOT RUN because target 'prodcopy' is production*"])
    assert row_counts(fresh_db) == before


def test_gate_fault_is_no_go_in_every_artifact(kifu: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """With /health failing, the HTML, the ticket, the JSON and the JUnit XML all say NO-GO and name the gate."""
    import json
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
