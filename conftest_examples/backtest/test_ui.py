"""The stock selection page in a browser: its controls, a backtest run from it, and the result download."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from pytest_deploysmoke import Target, UiError, expect_renders

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

pytestmark = pytest.mark.phase("ui")

#: What a user needs to start a backtest, by the names the user knows them by.
CONTROLS = {
    "#symbols": "the stock list",
    "#start-date": "the From date",
    "#end-date": "the To date",
    "#start-backtest": "the Start backtest button",
}
PERFORMANCE = ("total_return", "sharpe_ratio", "max_drawdown", "total_trades", "win_rate")
#: The progress bar at 100 %, or the page showing why the backtest will not get there.
FINISHED = '#backtest-progress[value="100"], #error:not([hidden])'
#: The API's result route: where the page's Download result link must point.
RESULT_ROUTE = "/api/backtest/result/{}"


def shown_at(page: Page) -> str:
    """The page's path and query, as a failure names the screen."""
    parts = urlsplit(page.url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def follow_progress_bar(page: Page, backtest_id: str, deploy_target: Target) -> None:
    """Wait until the page's progress bar is at 100 % and says completed, for up to ``vars.progress_within``.

    The wait also ends when the page shows an error (a failed backtest, an API call that failed),
    so a backtest that cannot complete fails the check at once, not at the deadline.
    """
    __tracebackhide__ = True
    within = deploy_target.vars.get("progress_within", "60s")
    try:
        expect_renders(page, FINISHED, within=within)
    except UiError as exc:
        gave_up = str(exc)
    else:
        gave_up = ""
    status = " ".join((page.locator("#progress-text").text_content() or "").split())
    error = page.locator("#error")
    shows = f"the page shows the error {error.text_content()!r}" if error.is_visible() else ""
    if gave_up:  # failed outside the handler: one line, no chained traceback
        stands = shows or (
            f"the progress bar of backtest {backtest_id} stands at {status}; "
            f"it did not complete within vars.progress_within ({within}): the worker's logs say why"
        )
        pytest.fail(f"{gave_up}; {stands}", pytrace=False)
    if shows or status != "100% (completed)" or not page.locator("#download-result").is_visible():
        pytest.fail(
            f"UI {shown_at(page)}: backtest {backtest_id} did not complete on the page: "
            f"{shows or f'it says {status!r} and offers no Download result'}",
            pytrace=False,
        )


def refusal(response: Response, backtest_id: str, deploy_target: Target) -> str | None:
    """Why the answer to Download result is not the result file, or None when it is."""
    path, filename = urlsplit(response.url).path, f"backtest-result-{backtest_id}.json"
    if response.status == 200:
        disposition = response.header_value("content-disposition") or ""
        if disposition.startswith("attachment"):
            return None
        return f"GET {path} answered 200 with Content-Disposition {disposition!r}, not the download of {filename}"
    try:
        body = " ".join(response.text().split())[:200]
    except Exception:  # a body the browser did not keep: the status says enough
        body = "no body"
    route, hotfix = RESULT_ROUTE.format(backtest_id), deploy_target.version or "the hotfix"
    if path != route:
        fix = (
            f"the page links to {path}, not to the API's result route {route}; "
            "deploy the page that was built with this API (are the page and the API from the same release?)"
        )
    elif response.status == 404:
        fix = (
            f"the result download still returns 404 from the page, the bug {hotfix} fixes; "
            f"check that {hotfix} is deployed on every instance and mounts the result route"
        )
    else:
        fix = "the service's logs say why"
    return f"GET {path} answered {response.status} ({body}) instead of the file {filename}; {fix}"


def download_result(page: Page, backtest_id: str, deploy_target: Target) -> dict[str, Any]:
    """Click Download result and check the file the browser saves; return its parsed content."""
    __tracebackhide__ = True
    where, filename = shown_at(page), f"backtest-result-{backtest_id}.json"
    link = page.locator("#download-result")
    url = link.evaluate("link => link.href")
    with page.expect_download() as downloaded:
        with page.expect_response(lambda response: response.url == url) as answered:
            link.click()
        problem = refusal(answered.value, backtest_id, deploy_target)
        if problem:  # no download will come: say what came instead, without waiting out the timeout
            pytest.fail(f"UI {where}: Download result of backtest {backtest_id}: {problem}", pytrace=False)
    download = downloaded.value
    failure = download.failure()
    if failure is not None:
        pytest.fail(f"UI {where}: the download of {filename} failed in the browser: {failure}", pytrace=False)
    if download.suggested_filename != filename:
        pytest.fail(
            f"UI {where}: Download result of backtest {backtest_id} saved {download.suggested_filename!r}, "
            f"expected {filename}",
            pytrace=False,
        )
    content = Path(download.path()).read_text(encoding="utf-8", errors="replace")
    try:
        document = json.loads(content)
    except ValueError as exc:
        not_json = f"{exc}"
    else:
        not_json = ""
    if not_json or not isinstance(document, dict):
        pytest.fail(
            f"UI {where}: the downloaded {filename} is not a JSON object ({not_json or type(document).__name__}): "
            f"{' '.join(content.split())[:200]!r}",
            pytrace=False,
        )
    wrong = [
        f"{key} is {document.get(key)!r}, expected {value!r}"
        for key, value in (("backtest_id", backtest_id), ("status", "completed"))
        if document.get(key) != value
    ]
    performance = document.get("performance")
    if not isinstance(performance, dict):
        wrong.append(f"performance is missing (expected {', '.join(PERFORMANCE)})")
    elif missing := [name for name in PERFORMANCE if not is_number(performance.get(name))]:
        wrong.append(f"performance has no number for {', '.join(missing)}")
    if wrong:
        pytest.fail(f"UI {where}: the downloaded {filename} is incomplete: {'; '.join(wrong)}", pytrace=False)
    return document


def started_id(response: Response) -> str | None:
    """The backtest id in the answer to Start backtest; None when it is not JSON or has none."""
    try:
        answer = response.json()
    except ValueError:
        return None
    backtest_id = answer.get("backtest_id") if isinstance(answer, dict) else None
    return backtest_id if isinstance(backtest_id, str) and backtest_id else None


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def test_stock_selection_page_renders_with_its_controls_enabled(ui_page: Page) -> None:
    """The stock selection page renders with the stock list, both dates and Start backtest enabled and filled in."""
    expect_renders(ui_page, "#start-backtest", path="/")
    unusable = []
    for selector, name in CONTROLS.items():
        control = ui_page.locator(selector)
        if not control.is_visible():
            unusable.append(f"{name} is not shown")
        elif not control.is_enabled():
            unusable.append(f"{name} is disabled")
        elif selector.endswith("-date") and not control.input_value():
            unusable.append(f"{name} is empty")
    if ui_page.locator("#symbols").is_visible() and not ui_page.locator("#symbols option:checked").count():
        unusable.append("no stock is selected")
    if unusable:
        pytest.fail(f"UI /: the stock selection page cannot start a backtest: {'; '.join(unusable)}", pytrace=False)


def test_known_backtest_page_shows_it_completed_and_its_result_downloads(
    ui_page: Page, known_backtest_id: str, deploy_target: Target
) -> None:
    """The known backtest's page shows it completed at 100 % and downloads its result file (read-only).

    /?backtest_id={id} opens the backtest; its progress bar must be full and say completed, and
    Download result must save backtest-result-{id}.json with the performance fields.  It only
    reads, so it runs on production: the result download seen from the page, as users click it.
    """
    expect_renders(ui_page, "#backtest-progress", path=f"/?backtest_id={known_backtest_id}")
    follow_progress_bar(ui_page, known_backtest_id, deploy_target)
    download_result(ui_page, known_backtest_id, deploy_target)


@pytest.mark.destructive  # Start backtest writes: a backtest row, a results file, and work for the worker
def test_backtest_started_on_the_page_completes_and_its_result_downloads(ui_page: Page, deploy_target: Target) -> None:
    """Start backtest on the page fills the progress bar to 100 %, then Download result saves its result file.

    The progress bar must reach 100 % and say completed within vars.progress_within, and
    Download result must save backtest-result-{id}.json with the performance fields.
    """
    expect_renders(ui_page, "#start-backtest", path="/")
    with ui_page.expect_response(lambda response: urlsplit(response.url).path == "/api/backtest/start") as answered:
        ui_page.click("#start-backtest")
    started = answered.value
    sent = f"UI /: Start backtest sent POST /api/backtest/start, which answered {started.status}"
    if started.status != 200:
        pytest.fail(f"{sent}: {' '.join(started.text().split())[:200]}", pytrace=False)
    backtest_id = started_id(started)
    if backtest_id is None:
        pytest.fail(f"{sent} without a backtest_id: {' '.join(started.text().split())[:200]}", pytrace=False)
    follow_progress_bar(ui_page, backtest_id, deploy_target)
    download_result(ui_page, backtest_id, deploy_target)
