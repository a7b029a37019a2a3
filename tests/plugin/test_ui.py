"""Browser checks in real headless Chromium (Debian's chromium) through pytest-playwright, against a real app."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.apps.pages import TOKEN, make_app
from tests.fix_servers import serve_in_thread

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def pages_url() -> Iterator[str]:
    with serve_in_thread(make_app(), "pages") as url:
        yield url


@pytest.fixture(scope="module")
def broken_chart_url() -> Iterator[str]:
    with serve_in_thread(make_app(chart_broken=True), "pages, chart broken") as url:
        yield url


def target_toml(url: str, *, production: bool = False, extra: str = "") -> str:
    return (
        f'[targets.t]\nbase_url = "{url}"\ntimeout = 5\nproduction = {str(production).lower()}\n'
        f'[targets.t.ui]\nbrowser_path = "{CHROMIUM}"\ntoken_storage = "localStorage:token"\n'
        '[targets.t.auth]\nlogin_path = "/api/login"\nusername = "smoke@pages.example"\npassword = "pw-Secret-42"\n'
        + extra
    )


def run(pytester: pytest.Pytester, url: str, checks: str, *args: str, production: bool = False) -> pytest.RunResult:
    pytester.makefile(".toml", deploysmoke=target_toml(url, production=production))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_ui=checks)
    return pytester.runpytest_subprocess("--deploy-target=t", "-p", "no:cacheprovider", *args, timeout=120)


GOOD = """
import pytest
from pytest_deploysmoke import expect_renders


@pytest.mark.phase("features")
def test_home_renders(ui_page):
    \"\"\"Home shows its summary cards.\"\"\"
    expect_renders(ui_page, "#cards .card", path="/home")
    assert ui_page.locator("#cards .card").count() == 3


@pytest.mark.phase("features")
def test_chart_tab_opens(ui_page, base_url):
    \"\"\"The chart tab draws its chart.\"\"\"
    ui_page.goto("/")
    assert ui_page.url == base_url + "/"
    ui_page.click("#chart-tab")
    expect_renders(ui_page, "#chart-canvas", url="**/#chart", budget="5s")
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_good_screens_render_and_are_recorded_with_screenshots(
    pytester: pytest.Pytester, pages_url: str, xdist: list[str]
) -> None:
    """Screens that render pass; the target feeds base_url; timings are calls; screenshots reach HTML and ticket."""
    files = ("--html=out/report.html", "--deploy-ticket=out/ticket.md", "--deploy-json=out/s.json")
    result = run(pytester, pages_url, GOOD, *files, *xdist)
    result.assert_outcomes(passed=2)
    summary = json.loads((pytester.path / "out" / "s.json").read_text())
    calls = {
        c["nodeid"].split("::")[1]: [(call["kind"], call["action"]) for call in c["calls"]] for c in summary["checks"]
    }
    assert calls["test_home_renders"] == [("ui", "open /home"), ("ui", "render /home #cards .card")]
    assert calls["test_chart_tab_opens"] == [("ui", "render / #chart-canvas")]
    ticket = (pytester.path / "out" / "ticket.md").read_text()
    shot = "ticket-screenshots/test_ui.py_test_home_renders.png"
    assert f"[screenshot]({shot})" in ticket
    assert (pytester.path / "out" / shot).read_bytes().startswith(b"\x89PNG")
    html = (pytester.path / "out" / "report.html").read_text()
    assert html.count("screenshot") >= 2


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        (
            'expect_renders(ui_page, "#title", path="/broken-script")',
            "UI /broken-script: 1 problem on the page: uncaught TypeError: Cannot read properties of undefined (reading 'items')",
        ),
        (
            'ui_page.goto("/console-error")',  # nothing looked: the page's error still fails the check
            "UI /console-error: 1 problem on the page: console error: boom: widget failed to mount (/console-error:*)",
        ),
        (
            'expect_renders(ui_page, "#chart canvas", path="/api-500")',
            "UI /api-500: #chart canvas not visible after * s; 1 problem on the page: GET /api/fail answered 500 (fetch)",
        ),
        (
            'expect_renders(ui_page, "#title", path="/moved")',
            "UI /moved: expected to reach /moved, but the page is at http://127.0.0.1:*/login; a redirect (to a login?)",
        ),
        (
            'expect_renders(ui_page, "h1", path="/gone")',
            "UI /gone: the page answered 404; is the screen deployed at that path?",
        ),
        (
            'expect_renders(ui_page, "#nothing-here", path="/home", within="0.5s")',
            "UI /home: #nothing-here not visible within 0.5 s",
        ),
        (
            'ui_page.goto("/home")\n    expect_renders(ui_page, "h1", url="**/reports", within="0.4s")',
            "UI /home: expected to reach **/reports, but the page is at http://127.0.0.1:*/home within 0.4 s",
        ),
        (
            'ui_page.goto("/home")\n    ui_page.click("#old-link")\n    ui_page.wait_for_url("**/gone")',
            "UI /gone: 1 problem on the page: GET /gone answered 404 (document)",
        ),
    ],
    ids=[
        "script-throws",
        "console-error",
        "api-500",
        "redirected",
        "not-found",
        "never-visible",
        "url-not-reached",
        "link-404",
    ],
)
def test_broken_screen_fails_with_what_the_page_did(
    pytester: pytest.Pytester, pages_url: str, checks: str, message: str
) -> None:
    """Each broken screen fails its check in one line: the uncaught error, console error or failed call."""
    body = (
        f"import pytest\nfrom pytest_deploysmoke import expect_renders\n\n\ndef test_screen(ui_page):\n    {checks}\n"
    )
    result = run(pytester, pages_url, body.replace("within=2", ""), "--deploy-json=s.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{message}*"])
    assert "Traceback" not in result.stdout.str() and "INTERNALERROR" not in result.stdout.str()


def test_chart_whose_api_fails_names_the_call_and_the_console_error(
    pytester: pytest.Pytester, broken_chart_url: str
) -> None:
    """A tab whose chart API answers 500 never draws: the failure names the wait, the call and the console error."""
    body = (
        "from pytest_deploysmoke import expect_renders\n\n\ndef test_chart(ui_page):\n"
        "    ui_page.goto('/home')\n    ui_page.click('#chart-tab')\n"
        "    expect_renders(ui_page, '#chart-canvas', within='1.5s')\n"
    )
    result = run(pytester, broken_chart_url, body)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*UI /home: #chart-canvas not visible after * s; 2 problems on the page: GET /api/chart answered 500 (fetch); "
            "console error: chart failed: chart API 500 (/home:*)*"
        ]
    )


PRODUCTION = """
import pytest


def test_save_is_not_sent(ui_page):
    ui_page.goto("/form")
    ui_page.click("#save")
    ui_page.wait_for_timeout(300)


@pytest.mark.destructive
def test_save_writes(ui_page):
    ui_page.goto("/form")
    ui_page.click("#save")
    ui_page.wait_for_selector("text=saved 1")
"""


def test_production_blocks_the_pages_writes_and_skips_destructive_screens(pytester: pytest.Pytester) -> None:
    """On a production target a UI check cannot make the page write, and destructive UI checks do not run."""
    app = make_app()
    with serve_in_thread(app, "pages, production") as url:
        result = run(pytester, url, PRODUCTION, production=True)
        writes = httpx.get(f"{url}/api/writes", timeout=5).json()["writes"]
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*UI /form: * on the page: the page's POST /api/items blocked: target 't' is production "
            "and the test is not marked destructive (mark it destructive*",
            "*destructive check(s) not run on production (by design): target 't' is production*",
        ]
    )
    assert writes == 0


AUTHED = """
def test_account_page(authed_ui_page):
    authed_ui_page.goto("/private")
    authed_ui_page.wait_for_selector("text=smoke@pages.example")


def test_token_page(authed_ui_page):
    authed_ui_page.goto("/shows-token")
    authed_ui_page.wait_for_selector("#token:not(:empty)")
"""


def test_authed_page_is_logged_in_and_no_secret_is_photographed(pytester: pytest.Pytester, pages_url: str) -> None:
    """authed_ui_page carries the token; a page that shows it gets no screenshot, and nothing leaks anywhere."""
    result = run(
        pytester, pages_url, AUTHED, "--html=report.html", "--self-contained-html", "--deploy-ticket=ticket.md", "-rA"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*deploysmoke screenshot*", "withheld: the page shows a secret"])
    shots = sorted(p.name for p in (pytester.path / "ticket-screenshots").iterdir())
    assert shots == ["test_ui.py_test_account_page.png"]
    for text in (
        result.stdout.str(),
        (pytester.path / "report.html").read_text(),
        (pytester.path / "ticket.md").read_text(),
    ):
        assert TOKEN not in text and "pw-Secret-42" not in text
    html = (pytester.path / "report.html").read_text()
    assert base64.b64encode(TOKEN.encode()).decode()[:16] not in html


def test_user_base_url_wins_over_the_target(pytester: pytest.Pytester, pages_url: str, standin_url: str) -> None:
    """--base-url given on the command line is kept; without it, base_url is the target's."""
    body = "def test_base(base_url):\n    print('BASE', base_url)\n"
    assert "BASE " + pages_url in run(pytester, pages_url, body, "-s").stdout.str()
    assert "BASE " + standin_url in run(pytester, pages_url, body, "-s", f"--base-url={standin_url}").stdout.str()


def test_missing_browser_path_is_one_clear_error(pytester: pytest.Pytester, pages_url: str) -> None:
    """A browser path that does not exist fails the check with what to install, not a traceback."""
    result = run(
        pytester, pages_url, "def test_x(ui_page):\n    ui_page.goto('/')\n", "--deploy-browser-path=/nowhere/chromium"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*the browser path /nowhere/chromium does not exist; install Debian's chromium (apt-get install chromium)*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_without_pytest_playwright_ui_page_says_what_to_install(pytester: pytest.Pytester, pages_url: str) -> None:
    """Without pytest-playwright, ui_page fails with the install command."""
    result = run(pytester, pages_url, "def test_x(ui_page):\n    pass\n", "-p", "no:playwright")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ui_page needs pytest-playwright, which is not installed; install it with: pip install 'pytest-deploysmoke?ui?'*"
        ]
    )


MIXED = """
import pytest


@pytest.mark.asyncio
async def test_async_before(ahttp):
    assert (await ahttp.get("/api/cards")).status_code == 200


def test_ui_between(ui_page):
    ui_page.goto("/home")
    ui_page.wait_for_selector("#cards .card")


@pytest.mark.asyncio
async def test_async_after(ahttp):
    assert (await ahttp.get("/api/cards")).status_code == 200


@pytest.mark.asyncio
async def test_ui_written_async(ui_page):
    ui_page.goto("/home")
"""


def test_async_checks_and_ui_checks_share_a_suite(pytester: pytest.Pytester, pages_url: str) -> None:
    """pytest-asyncio checks and sync Playwright checks run in one suite; an async UI check is told what to do."""
    result = run(pytester, pages_url, MIXED)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        ["*test_ui_written_async: ui_page is Playwright's sync page; write the check as a plain def*"]
    )


def test_help_shows_no_conflict_with_playwright_base_url_and_html(pytester: pytest.Pytester) -> None:
    """Installed together, pytest --help lists every plugin's options without a clash."""
    result = pytester.runpytest_subprocess("--help")
    assert result.ret == 0, result.stderr.str()
    output = result.stdout.str()
    for option in ("--deploy-browser-path", "--deploy-target", "--base-url", "--browser", "--html", "--screenshot"):
        assert option in output
    assert "conflict" not in (output + result.stderr.str()).lower()


def test_screenshot_path_mentions_no_page_when_screenshots_are_off(pytester: pytest.Pytester, pages_url: str) -> None:
    """[ui] screenshots = "off" takes none, also for the ticket."""
    pytester.makefile(".toml", deploysmoke=target_toml(pages_url) + "")
    toml = (
        (pytester.path / "deploysmoke.toml")
        .read_text()
        .replace('token_storage = "localStorage:token"', 'screenshots = "off"')
    )
    (pytester.path / "deploysmoke.toml").write_text(toml)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_ui="def test_x(ui_page):\n    ui_page.goto('/home')\n")
    result = pytester.runpytest_subprocess("--deploy-target=t", "--deploy-ticket=ticket.md", timeout=120)
    result.assert_outcomes(passed=1)
    assert not Path(pytester.path / "ticket-screenshots").exists()
    assert "[screenshot]" not in (pytester.path / "ticket.md").read_text()


def test_production_lets_a_declared_read_through(pytester: pytest.Pytester) -> None:
    """A POST the target lists in read_only_requests is sent by the page on production too."""
    app = make_app()
    with serve_in_thread(app, "pages, declared read") as url:
        pytester.makefile(
            ".toml",
            deploysmoke=target_toml(url, production=True).replace(
                "production = true", 'production = true\nread_only_requests = ["POST /api/items"]'
            ),
        )
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
        pytester.makepyfile(
            test_ui="def test_save(ui_page):\n    ui_page.goto('/form')\n    ui_page.click('#save')\n"
            "    ui_page.wait_for_selector('text=saved 1')\n"
        )
        result = pytester.runpytest_subprocess("--deploy-target=t", timeout=120)
        writes = httpx.get(f"{url}/api/writes", timeout=5).json()["writes"]
    result.assert_outcomes(passed=1)
    assert writes == 1


MISUSE = """
from pytest_deploysmoke import expect_renders


def test_plain_page(page):
    expect_renders(page, "h1", path="/home")


def test_no_token_storage(authed_ui_page):
    pass
"""


def test_misuse_is_one_clear_line(pytester: pytest.Pytester, pages_url: str) -> None:
    """expect_renders on an unwatched page, and authed_ui_page without [ui] token_storage, say what to do."""
    pytester.makefile(".toml", deploysmoke=target_toml(pages_url).replace('token_storage = "localStorage:token"\n', ""))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_ui=MISUSE)
    result = pytester.runpytest_subprocess("--deploy-target=t", timeout=120)
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*expect_renders() takes a page from the ui_page or authed_ui_page fixture*",
            "*authed_ui_page: target 't' has no ?ui? token_storage; say where the app keeps its token*",
        ],
        consecutive=False,
    )
    assert "Traceback" not in result.stdout.str()
