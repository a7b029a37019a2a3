"""The backtest example through the plugin: green on the hotfix, each bad deploy caught, production untouched,
its browser checks run in headless Chromium with their screenshots in the HTML report."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from tests.fix_browser import CHROMIUM, report_page
from tests.fix_servers import free_port, start_standin, stop_process
from tests.fix_services import dsn_password

BACKTEST = Path(__file__).parents[2] / "conftest_examples" / "backtest"
KNOWN = "bt_reference"  # the backtest the stand-in seeds, and vars.known_backtest_id
PERFORMANCE = {"total_return", "sharpe_ratio", "max_drawdown", "total_trades", "win_rate"}
RENDER_CHECK = "test_ui.py::test_stock_selection_page_renders_with_its_controls_enabled"
KNOWN_UI_CHECK = "test_ui.py::test_known_backtest_page_shows_it_completed_and_its_result_downloads"
NEW_UI_CHECK = "test_ui.py::test_backtest_started_on_the_page_completes_and_its_result_downloads"


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
    output = result.stdout.str() + result.stderr.str()
    assert dsn_password(fresh_db) not in output
    assert "Traceback" not in output and "INTERNALERROR" not in output
    return result


def backtests(dsn: str) -> list[tuple[str, str, int, str | None]]:
    """Every backtest's id, status, progress and results file, oldest first."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        rows = conn.execute("SELECT id, status, progress, results_file FROM backtests ORDER BY created_at").fetchall()
    return [(str(r[0]), str(r[1]), int(r[2]), r[3]) for r in rows]


def test_good_deploy_passes_every_check(backtest: pytest.Pytester, fresh_db: str) -> None:
    """On the hotfix every checklist item passes, in the browser too, and the worker wrote both smoke results."""
    result = run_suite(backtest, fresh_db)
    result.assert_outcomes(passed=13)  # with deploysmoke::version: the target sets version
    result.stdout.fnmatch_lines(
        [
            "*preflight*PASSED*(gate)*1 passed*",
            "*health*PASSED*(gate)*3 passed*",
            "*hotfix*PASSED*(gate)*1 passed*",
            "*features*PASSED*5 passed*",
            "*ui*PASSED*3 passed*",
            "deploysmoke verdict: GO",
        ]
    )
    new = [row for row in backtests(fresh_db) if row[0] != KNOWN]
    assert len(new) == 2, f"one backtest from the API check and one from the page, got {new}"
    for backtest_id, status, progress, results_file in new:
        assert (status, progress) == ("completed", 100)
        path = backtest.path / "data" / "results" / f"backtest-result-{backtest_id}.json"
        assert results_file == str(path)
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["backtest_id"] == backtest_id and set(document["performance"]) == PERFORMANCE


STUCK_AT_30 = (
    "poll_until(backtest_progress): condition not met after * attempts in * s (timeout 5 s, every 0.1 s); "
    "last value: {'backtest_id': 'bt_*', 'status': 'running', 'progress': 30}"
)
HOTFIX_404 = (
    "the result download still returns 404 from the page, the bug 2.0.2 fixes; "
    "check that 2.0.2 is deployed on every instance and mounts the result route"
)


def link_404(page: str, backtest_id: str) -> str:
    """The failure of a UI check whose Download result link points at a route the API does not have."""
    return (
        f"UI {page}: Download result of backtest {backtest_id}: GET /api/backtest/download/{backtest_id} answered 404 "
        f"(Not Found) instead of the file backtest-result-{backtest_id}.json; the page links to "
        f"/api/backtest/download/{backtest_id}, not to the API's result route /api/backtest/result/{backtest_id}; "
        "deploy the page that was built with this API (are the page and the API from the same release?)"
    )


@dataclass(frozen=True)
class Fault:
    """A bad deploy: the fault switch, the run's extra options, and exactly what the run reports."""

    switch: str
    failed: tuple[str, ...]  # the checks that fail, in run order
    messages: tuple[str, ...]  # each failure's one line (fnmatch patterns)
    outcomes: dict[str, int]
    gate: str | None = None  # the gate phase whose failure skips the later phases
    args: tuple[str, ...] = field(default=())


FAULTS = {
    "result_404": Fault(
        "result_404",
        ("test_hotfix.py::test_result_download_no_longer_404s",),
        (
            f"GET /api/backtest/result/{KNOWN} answered 404 (Not Found): the result download still returns 404, "
            "the bug 2.0.2 fixes; check that 2.0.2 is deployed on every instance and mounts the result route",
        ),
        {"passed": 4, "failed": 1, "skipped": 8},
        gate="hotfix",
    ),
    # The same regression seen from the page: the ui phase alone, since in a full run the hotfix gate skips it.
    "result_404-ui": Fault(
        "result_404",
        (KNOWN_UI_CHECK, NEW_UI_CHECK),
        (
            f"UI /?backtest_id={KNOWN}: Download result of backtest {KNOWN}: GET /api/backtest/result/{KNOWN} "
            f"answered 404 (Not Found) instead of the file backtest-result-{KNOWN}.json; {HOTFIX_404}",
            "UI /: Download result of backtest bt_*: GET /api/backtest/result/bt_* answered 404 (Not Found) "
            f"instead of the file backtest-result-bt_*.json; {HOTFIX_404}",
        ),
        {"passed": 1, "failed": 2, "deselected": 10},
        args=("--deploy-phase=ui",),
    ),
    "download_link_404": Fault(
        "download_link_404",
        (KNOWN_UI_CHECK, NEW_UI_CHECK),
        (link_404(f"/?backtest_id={KNOWN}", KNOWN), link_404("/", "bt_*")),
        {"passed": 11, "failed": 2},
    ),
    "version_2_0_1": Fault(
        "version_2_0_1",
        # The built-in version check sees it first; the example's own check says what the hotfix means.
        ("deploysmoke::version", "test_health.py::test_health_reports_the_hotfix_version"),
        (
            "version 2.0.1 answered, expected 2.0.2 (JSON $.version of GET /api/health); "
            "check that the release reached target 'local', or correct version",
            "GET /api/health reports version 2.0.1, the release the hotfix replaces, not the hotfix 2.0.2: "
            "the hotfix is not deployed; roll out 2.0.2 (check the image tag the deploy used) and rerun",
        ),
        {"passed": 2, "failed": 2, "skipped": 9},
        gate="health",
    ),
    "worker_stuck": Fault(
        "worker_stuck",
        ("test_backtest.py::test_progress_moves_from_0_to_100_and_completes", NEW_UI_CHECK),
        (
            STUCK_AT_30,
            # The page's backtest waits in the queue behind the API check's, which the worker never finishes.
            'UI /: #backtest-progress[[]value="100"], #error:not([[]hidden]) not visible within *.* s; the progress bar '
            "of backtest bt_* stands at 0% (queued); it did not complete within vars.progress_within (5s): "
            "the worker's logs say why",
        ),
        {"passed": 10, "failed": 2, "errors": 1},
    ),
    "no_performance": Fault(
        "no_performance",
        ("test_results.py::test_new_backtest_result_downloads", NEW_UI_CHECK),
        (
            "GET /api/backtest/result/bt_* JSON differs from what was expected: $.performance: missing",
            "UI /: the downloaded backtest-result-bt_*.json is incomplete: "
            "performance is missing (expected total_return, sharpe_ratio, max_drawdown, total_trades, win_rate)",
        ),
        {"passed": 11, "failed": 2},
    ),
}


@pytest.mark.parametrize("case", list(FAULTS))
def test_each_bad_deploy_is_caught_by_its_check(
    backtest: pytest.Pytester, fresh_db: str, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """Each fault switch fails the checks written for it, each in one line; a fault in a gate skips later phases."""
    fault = FAULTS[case]
    monkeypatch.setenv("BACKTEST_FAULTS", fault.switch)
    result = run_suite(backtest, fresh_db, *fault.args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(**fault.outcomes)
    result.stdout.fnmatch_lines([f"FAILED {check}*" for check in fault.failed])
    result.stdout.fnmatch_lines(list(fault.messages))
    if case == "worker_stuck":  # the new result's check cannot run: its backtest never completes
        result.stdout.fnmatch_lines([f"backtest bt_* did not complete, so it has no result to check: {STUCK_AT_30}"])
    if fault.gate is None:
        assert "later phases not run" not in result.stdout.str()
    else:
        result.stdout.fnmatch_lines([f"*gate '{fault.gate}' failed ({fault.failed[0]}); later phases not run*"])


@pytest.fixture
def standing_backtest(backtest: pytest.Pytester) -> Iterator[str]:
    """The stand-in started by hand, as a deployed service is: no [launch] on a production target."""
    port = free_port()
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
    """Against a production = true copy, only the read-only checks run, in the browser too; nothing is written."""
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

[targets.prodcopy.ui]
browser_path = "${{DEPLOYSMOKE_BROWSER_PATH:-{CHROMIUM}}}"
""",
        encoding="utf-8",
    )
    results = backtest.path / "data" / "results"
    before, files_before = backtests(fresh_db), sorted(results.iterdir())
    result = run_suite(backtest, fresh_db, "--deploy-target=prodcopy")
    result.assert_outcomes(passed=8, skipped=4)
    result.stdout.fnmatch_lines(
        [
            "*ui*PASSED*2 passed, 1 skipped*",
            "*4 destructive check(s) not run on production (by design): target 'prodcopy' is production*",
            "*test_backtest.py::test_backtest_starts",
            "*test_backtest.py::test_progress_moves_from_0_to_100_and_completes",
            "*test_results.py::test_new_backtest_result_downloads",
            f"*{NEW_UI_CHECK}",
        ]
    )
    assert backtests(fresh_db) == before and sorted(results.iterdir()) == files_before
    log = (backtest.path / "standin.log").read_text()
    # The known result was read by the hotfix check, the results check and the page's Download result; nothing
    # was sent that writes.
    assert log.count(f'"GET /api/backtest/result/{KNOWN} HTTP/1.1" 200') == 3
    assert f'"GET /?backtest_id={KNOWN} HTTP/1.1" 200' in log
    assert all(f'"{verb} ' not in log for verb in ("POST", "PUT", "PATCH", "DELETE"))


def test_html_report_shows_the_ui_checks_screenshot_in_its_row(backtest: pytest.Pytester, fresh_db: str) -> None:
    """The self-contained HTML report, opened in Chromium, shows the page's screenshot in the UI check's row."""
    report = backtest.path / "report.html"
    result = run_suite(
        backtest, fresh_db, "--deploy-phase=ui", "-k", "renders", f"--html={report}", "--self-contained-html"
    )
    result.assert_outcomes(passed=1, deselected=12)
    with report_page(report) as page:
        row = page.locator(f'tbody.results-table-row[id="{RENDER_CHECK}"]')
        assert row.locator(".col-result").inner_text() == "Passed"
        row.locator(".collapsible .col-result").click()  # pytest.ini renders passed rows collapsed
        image = row.locator(".extras-row img")
        image.wait_for(state="visible")
        source, width, height = image.evaluate("img => [img.src, img.naturalWidth, img.naturalHeight]")
    assert source.startswith("data:image/png;base64,")
    assert width > 0 and height > 0, f"the screenshot did not load: {width}x{height}"
    assert dsn_password(fresh_db) not in report.read_text(encoding="utf-8")
