"""The backtest example through the plugin: green on the hotfix, each bad deploy caught, production untouched."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import _free_port, start_standin, stop_process

BACKTEST = Path(__file__).parent.parent / "conftest_examples" / "backtest"
KNOWN = "bt_reference"  # the backtest the stand-in seeds, and vars.known_backtest_id
PERFORMANCE = {"total_return", "sharpe_ratio", "max_drawdown", "total_trades", "win_rate"}


@pytest.fixture
def backtest(pytester: pytest.Pytester, fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The backtest suite copied into a fresh project, its stand-in on its own database and data directory."""
    shutil.copytree(BACKTEST, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    monkeypatch.setenv("BACKTEST_DATA_DIR", str(pytester.path / "data"))
    for name in ("BACKTEST_FAULTS", "APP_VERSION", "RELEASE_VERSION", "KNOWN_BACKTEST_ID"):
        monkeypatch.delenv(name, raising=False)
    return pytester


def run_suite(backtest: pytest.Pytester, fresh_db: str, *args: str) -> pytest.RunResult:
    """Run the suite against *args*' target (``local`` by default); no output may show the database password."""
    target = () if any(arg.startswith("--deploy-target") for arg in args) else ("--deploy-target=local",)
    result = backtest.runpytest_subprocess(*target, "-m", "smoke", "-rfEs", *args, timeout=120)
    password = str(psycopg.conninfo.conninfo_to_dict(fresh_db).get("password") or "")
    output = result.stdout.str() + result.stderr.str()
    assert not password or password not in output
    assert "Traceback" not in output and "INTERNALERROR" not in output
    return result


def backtests(dsn: str) -> list[tuple[str, str, int, str | None]]:
    """Every backtest's id, status, progress and results file, oldest first."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        rows = conn.execute("SELECT id, status, progress, results_file FROM backtests ORDER BY created_at").fetchall()
    return [(str(r[0]), str(r[1]), int(r[2]), r[3]) for r in rows]


def test_good_deploy_passes_every_check(backtest: pytest.Pytester, fresh_db: str) -> None:
    """On the hotfix every checklist item passes, and the python worker wrote the smoke backtest's results file."""
    result = run_suite(backtest, fresh_db)
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(
        [
            "*preflight*PASSED*(gate)*1 passed*",
            "*health*PASSED*(gate)*2 passed*",
            "*hotfix*PASSED*(gate)*1 passed*",
            "*features*PASSED*5 passed*",
            "deploysmoke verdict: GO",
        ]
    )
    (new,) = [row for row in backtests(fresh_db) if row[0] != KNOWN]
    backtest_id, status, progress, results_file = new
    assert (status, progress) == ("completed", 100)
    path = backtest.path / "data" / "results" / f"backtest-result-{backtest_id}.json"
    assert results_file == str(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["backtest_id"] == backtest_id and set(document["performance"]) == PERFORMANCE


STUCK_AT_30 = (
    "poll_until(backtest_progress): condition not met after * attempts in * s (timeout 5 s, every 0.1 s); "
    "last value: {'backtest_id': 'bt_*', 'status': 'running', 'progress': 30}"
)
FAULTS = {
    "result_404": (
        "test_hotfix.py::test_result_download_no_longer_404s",
        f"GET /api/backtest/result/{KNOWN} answered 404 (Not Found): the result download still returns 404, "
        "the bug 2.0.2 fixes; check that 2.0.2 is deployed on every instance and mounts the result route",
        "hotfix",
        {"passed": 3, "failed": 1, "skipped": 5},
    ),
    "version_2_0_1": (
        "test_health.py::test_health_reports_the_hotfix_version",
        "GET /api/health reports version 2.0.1, the release the hotfix replaces, not the hotfix 2.0.2: "
        "the hotfix is not deployed; roll out 2.0.2 (check the image tag the deploy used) and rerun",
        "health",
        {"passed": 2, "failed": 1, "skipped": 6},
    ),
    "worker_stuck": (
        "test_backtest.py::test_progress_moves_from_0_to_100_and_completes",
        f"E * Failed: {STUCK_AT_30}",
        None,
        {"passed": 7, "failed": 1, "errors": 1},
    ),
    "no_performance": (
        "test_results.py::test_new_backtest_result_downloads",
        "E * Failed: GET http://127.0.0.1:*/api/backtest/result/bt_* JSON differs from what was expected: $.performance: missing",
        None,
        {"passed": 8, "failed": 1},
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_bad_deploy_is_caught_by_its_check(
    backtest: pytest.Pytester, fresh_db: str, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """Each fault switch fails the check written for it, readably; a fault in a gate skips later phases."""
    check, message, gate, outcomes = FAULTS[fault]
    monkeypatch.setenv("BACKTEST_FAULTS", fault)
    result = run_suite(backtest, fresh_db)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(**outcomes)
    result.stdout.fnmatch_lines([f"FAILED {check} - *"])
    result.stdout.fnmatch_lines([message])
    if fault == "worker_stuck":  # the new result's check cannot run: its backtest never completes
        result.stdout.fnmatch_lines([f"backtest bt_* did not complete, so it has no result to check: {STUCK_AT_30}"])
    if gate is None:
        assert "later phases not run" not in result.stdout.str()
    else:
        result.stdout.fnmatch_lines([f"*gate '{gate}' failed ({check}); later phases not run*"])


@pytest.fixture
def standing_backtest(backtest: pytest.Pytester) -> Iterator[str]:
    """The stand-in started by hand, as a deployed service is: no [launch] on a production target."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "uvicorn", "backtest_app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "SEED_BACKTEST_ID": KNOWN}
    process = start_standin(argv, backtest.path, env, f"{url}/api/health", backtest.path / "standin.log")
    try:
        yield url
    finally:
        stop_process(process)


def test_production_copy_runs_no_destructive_check_and_writes_nothing(
    backtest: pytest.Pytester, fresh_db: str, standing_backtest: str
) -> None:
    """Against a production = true copy, only the read-only checks run, no backtest starts, no file is written."""
    toml = backtest.path / "deploysmoke.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8")
        + f"""
[targets.prodcopy]
base_url = "{standing_backtest}"
health_path = "/api/health"
production = true
version = "2.0.2"
timeout = 5
vars = {{ known_backtest_id = "{KNOWN}", replaces = "2.0.1", progress_within = "5s" }}
""",
        encoding="utf-8",
    )
    results = backtest.path / "data" / "results"
    before, files_before = backtests(fresh_db), sorted(results.iterdir())
    result = run_suite(backtest, fresh_db, "--deploy-target=prodcopy")
    result.assert_outcomes(passed=5, skipped=3)
    result.stdout.fnmatch_lines(
        [
            "*3 destructive check(s) NOT RUN because target 'prodcopy' is production*",
            "*test_backtest.py::test_backtest_starts",
            "*test_backtest.py::test_progress_moves_from_0_to_100_and_completes",
            "*test_results.py::test_new_backtest_result_downloads",
        ]
    )
    assert backtests(fresh_db) == before and sorted(results.iterdir()) == files_before
    assert '"GET /api/backtest/result/bt_reference HTTP/1.1" 200' in (backtest.path / "standin.log").read_text()
    assert "POST " not in (backtest.path / "standin.log").read_text()
