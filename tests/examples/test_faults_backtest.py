"""The backtest suite, proven from outside: each fault a real proxy injects between it and its stand-in is caught.

One stand-in and one proxy serve the module; each case swaps the proxy's rules and runs the whole
suite through it (tests/fix_proxy.py), its browser checks included: the page's own calls go through
the proxy too.  The cases are the table in docs/examples/backtest.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fix_proxy import Case, Rehearsal, case, rehearsal
from tests.fix_services import created_database

KNOWN = "bt_reference"  # the backtest the stand-in seeds, and vars.known_backtest_id
RESULT = "GET /api/backtest/result/*"
PROGRESS = "GET /api/backtest/progress"
TARGETS: dict[str, dict[str, Any]] = {
    # The result check's 5 s limit is its own budget; a client timeout of 10 s lets a slow answer reach it.
    "patient": {"timeout": 10},
    # A run makes about 20 HTTP calls (how many progress polls depends on timing), right at the default
    # min_samples; with 10, error_rate is evaluated on every run, and the verdict does not flip between runs.
    "retrying": {"retries": 2, "rollback": {"min_samples": 10}},
    # The same, without retries: a fault that fails two calls of the run is always judged by error_rate.
    "judged": {"rollback": {"min_samples": 10}},
}


@pytest.fixture(scope="module")
def backtest(
    tmp_path_factory: pytest.TempPathFactory, pg_dsn: str, pg_admin_dsn: str, mitm_confdir: Path
) -> Iterator[Rehearsal]:
    workdir = tmp_path_factory.mktemp("backtest-faults")
    with created_database(pg_dsn, pg_admin_dsn) as dsn:
        env = {
            "DATABASE_URL": dsn,
            "BACKTEST_DATA_DIR": str(workdir / "data"),
            "BACKTEST_FAULTS": "",
            "APP_VERSION": "",
            "RELEASE_VERSION": "",
            "KNOWN_BACKTEST_ID": "",
        }
        with rehearsal("backtest", workdir, env, mitm_confdir, targets=TARGETS) as proxied:
            yield proxied


CASES = [
    case(
        {"match": "GET /api/health", "kind": "status", "status": 503},
        "test_health_is_healthy_with_database_and_worker",
        "503",
        id="health-503",
    ),
    case(
        {"match": "GET /api/health", "kind": "json", "set": {"services.python_worker": "exited with code 1"}},
        "test_health_is_healthy_with_database_and_worker",
        "python_worker",
        id="health-worker-down-at-200",
    ),
    case(
        {"match": "GET /api/health", "kind": "json", "set": {"version": "2.0.1"}},
        "test_health_reports_the_hotfix_version",
        "2.0.1, the release the hotfix replaces",
        id="health-old-release",
    ),
    case(
        # The checks ask /api/health 3 times (the version check and the 2 health checks); what fails after
        # them is the watch window's to see: three failed health probes in a row.
        {"match": "GET /api/health", "kind": "status", "status": 503, "after": 3},
        None,
        "health_consecutive_failures",
        decision="ROLLBACK",
        args=("--deploy-watch=3s", "--deploy-watch-every=1s"),
        id="health-503-after-the-checks",
    ),
    case(
        {"match": RESULT, "kind": "status", "status": 404, "body": "Not Found", "content_type": "text/plain"},
        "test_result_download_no_longer_404s",
        "404",
        "still returns 404",
        id="result-404",
    ),
    case(
        {"match": "POST /api/backtest/start", "kind": "status", "status": 500},
        "test_backtest_starts",
        "500",
        "/api/backtest/start",
        id="start-500",
    ),
    case(
        {"match": "POST /api/backtest/start", "kind": "json", "remove": ["backtest_id"]},
        "test_backtest_started_on_the_page_completes_and_its_result_downloads",
        "POST /api/backtest/start",
        "without a backtest_id",
        id="start-without-id",
    ),
    case(
        {"match": PROGRESS, "kind": "json", "set": {"progress": 0}, "after": 3, "times": 1},
        "test_progress_moves_from_0_to_100_and_completes",
        "went backwards",
        id="progress-goes-back",
    ),
    case(
        {"match": PROGRESS, "kind": "invalid_json", "after": 1},
        "test_progress_moves_from_0_to_100_and_completes",
        "/api/backtest/progress",
        id="progress-invalid-json",
    ),
    case(
        # The API check's polls pass on a retry, but the failed attempts count (error_rate, max_retried);
        # the page's own polls are not retried, and it shows the 503.
        {"match": PROGRESS, "kind": "status", "status": 503, "rate": 0.5},
        "test_known_backtest_page_shows_it_completed_and_its_result_downloads",
        "GET /api/backtest/progress",
        "503",
        decision="ROLLBACK",
        target="retrying",
        id="progress-half-503-with-retries",
    ),
    case(
        {"match": RESULT, "kind": "json", "remove": ["performance.sharpe_ratio"]},
        "test_known_backtest_result_downloads",
        "sharpe_ratio",
        id="result-without-sharpe-ratio",
    ),
    case(
        {"match": RESULT, "kind": "headers", "remove": ["Content-Disposition"]},
        "test_known_backtest_result_downloads",
        "Content-Disposition",
        id="result-not-a-download",
    ),
    case(
        # Only the results check's call: the hotfix check reads the known result first.
        {"match": RESULT, "kind": "delay", "seconds": 5.5, "after": 1, "times": 1},
        "test_known_backtest_result_downloads",
        f"/api/backtest/result/{KNOWN}",
        "budget",
        target="patient",
        id="result-slow",
    ),
    case(
        # Both result checks fail on it: 2 errors in about 20 calls, over error_rate's 5 % whenever it is
        # evaluated, which the default min_samples of 20 left to how many progress polls the run made.
        {"match": RESULT, "kind": "truncate", "after": 1},
        "test_known_backtest_result_downloads",
        f"/api/backtest/result/{KNOWN}",
        "closed",
        decision="ROLLBACK",
        target="judged",
        id="result-truncated",
    ),
    case(
        # A 404, not a 5xx: one 5xx in a run of about 20 calls sits on error_rate's 5 %, a verdict decided by timing.
        {"match": "GET /", "kind": "status", "status": 404},
        "test_stock_selection_page_answers",
        "GET /",
        "404",
        id="page-404",
    ),
]


def test_a_good_deploy_through_the_proxy_is_go(backtest: Rehearsal) -> None:
    """The proxy itself changes nothing, in the browser too: with no fault, the suite's verdict is GO."""
    backtest.assert_go()


@pytest.mark.parametrize("case", CASES)
def test_each_fault_is_caught(backtest: Rehearsal, case: Case) -> None:
    backtest.rehearse(case)
