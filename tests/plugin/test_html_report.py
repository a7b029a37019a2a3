"""pytest-html report: verdict banner, environment rows, phase and slowest-call columns, call details.

The report is opened in Debian's Chromium, headless, driven over the DevTools protocol, and
its data are read back from the JSON pytest-html embeds; nothing here matches HTML strings.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
START_TIMEOUT = 30.0  # seconds for Chromium to print its DevTools address
CALL_TIMEOUT = 30.0  # seconds for one DevTools command, and for the report to render
STOP_TIMEOUT = 10.0

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzbW9rZSJ9.c2lnbmF0dXJlLXNlY3JldC12YWx1ZQ"
URL_PASSWORD = "hunter2-deploy-pass"
BEARER = "tok-7f3a9c1e5b2d4a6f8e0c"

FAILING_GATE = """
import pytest
from pytest_deploysmoke import expect_status

@pytest.mark.phase("preflight")
def test_version(http):
    \"\"\"The <b>deployed</b> version answers & is known.\"\"\"
    http.get("/items")

@pytest.mark.phase("health")
@pytest.mark.budget("2s")
def test_health(http):
    \"\"\"GET /status/503 answers 2xx.\"\"\"
    http.get("/items")
    expect_status(http.get("/status/503"))

@pytest.mark.phase("features")
def test_items(http):
    http.get("/items")
"""

PASSING_RUN = f"""
import pytest

@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/health").status_code == 200

@pytest.mark.phase("features")
@pytest.mark.budget("5s")
def test_items(http):
    http.get("/items")
    http.get("/slow", params={{"s": "0.05"}})

@pytest.mark.phase("features")
def test_token_shown(http):
    http.get("/items")
    pytest.fail("the API handed out " + {JWT!r})
"""

SECRET_ROWS = f"""
def pytest_deploysmoke_environment(config):
    return {{"Pipeline": "https://ci:{URL_PASSWORD}@ci.example/jobs/42", "Auth": "Authorization: Bearer {BEARER}",
             "Note": "<i>markup</i> & more"}}
"""

# Everything the browser test asserts, measured in the rendered page.
PAGE_FACTS = """
(() => {
  const shown = (el) => {
    if (!el) return false;
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    return box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && style.display !== 'none';
  };
  const banner = document.getElementById('deploysmoke-verdict');
  const failed = [...document.querySelectorAll('#results-table tbody.failed')].map((body) => {
    const row = body.querySelector('tr.collapsible'), details = body.querySelector('.deploysmoke-details');
    return {text: row.innerText, shown: shown(row), top: row.getBoundingClientRect().top,
            details: details ? details.innerText : null, detailsShown: shown(details)};
  });
  return {
    viewport: window.innerHeight,
    banner: banner && {text: banner.innerText, shown: shown(banner), top: banner.getBoundingClientRect().top,
                       classes: banner.className},
    failed,
    headers: [...document.querySelectorAll('#results-table thead th')].map((th) => th.innerText.trim()),
    environment: [...document.querySelectorAll('#environment tr')].slice(0, 3).map((tr) => tr.innerText),
    title: document.getElementById('title').innerText,
  };
})()
"""


class DevTools:
    """A minimal Chrome DevTools protocol client over one WebSocket (the browser's endpoint)."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._id = 0

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:  # events arrive between the answers; skip them
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"DevTools {method}: no answer within {CALL_TIMEOUT:.0f} s")
            reply = json.loads(self._ws.recv(timeout=left))
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method} failed: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def open(self, url: str) -> str:
        """Open *url* in a new tab and return the tab's session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session: str = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.navigate", {"url": url}, session)
        return session

    def evaluate(self, session: str, expression: str) -> Any:
        answer = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"script failed in the page: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, session: str, expression: str) -> None:
        deadline = time.monotonic() + CALL_TIMEOUT
        while not self.evaluate(session, expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page did not get to `{expression}` within {CALL_TIMEOUT:.0f} s")
            time.sleep(0.05)


@contextlib.contextmanager
def _chromium() -> Iterator[str]:
    """Start headless Chromium on a loopback DevTools port; yield its browser WebSocket URL, stop it by PID."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: run the suite with `python3 tasks.py test`, which installs Debian's chromium,"
            " or `apt-get install chromium`",
            pytrace=False,
        )
    profile = tempfile.mkdtemp(prefix="deploysmoke-chromium-")
    argv = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
        "about:blank",
    ]
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def drain() -> None:  # keeps reading, so Chromium never blocks on a full stderr pipe
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)

    reader = threading.Thread(target=drain, name="chromium-stderr", daemon=True)
    reader.start()
    try:
        deadline, seen = time.monotonic() + START_TIMEOUT, []
        while True:
            left = deadline - time.monotonic()
            try:
                line = lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                line = ""
            if line.startswith("DevTools listening on ws://"):
                yield line.split(" on ", 1)[1].strip()
                return
            seen.append(line)
            if left <= 0 or process.poll() is not None:
                tail = "".join(seen[-10:])
                pytest.fail(
                    f"Chromium printed no DevTools address within {START_TIMEOUT:.0f} s:\n{tail}", pytrace=False
                )
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # helpers left in the group Chromium led
        reader.join(STOP_TIMEOUT)  # ends at EOF, once no process of the group holds the pipe
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def devtools() -> Iterator[DevTools]:
    """A headless Chromium for this module's tests, driven over the DevTools protocol."""
    from websockets.sync.client import connect

    with _chromium() as url, connect(url, max_size=None, open_timeout=CALL_TIMEOUT) as ws:
        yield DevTools(ws)


class _DataBlob(HTMLParser):
    """Finds the JSON pytest-html embeds in ``<div id="data-container" data-jsonblob=...>``."""

    blob: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id") == "data-container":
            self.blob = values.get("data-jsonblob")


def report_data(path: Path) -> dict[str, Any]:
    parser = _DataBlob()
    parser.feed(path.read_text(encoding="utf-8"))
    assert parser.blob is not None, f"{path} has no data-container"
    data: dict[str, Any] = json.loads(parser.blob)
    return data


def _write_suite(pytester: pytest.Pytester, url: str, checks: str, health_path: str = "/health") -> None:
    pytester.makefile(
        ".toml",
        deploysmoke=f'[targets.staging]\nbase_url = "{url}"\nversion = "1.2.3"\nhealth_path = "{health_path}"\n'
        # deploysmoke::version reads /health whatever health_path the suite is given
        'version_from = "json:/health:$.version"\n',
    )
    pytester.makepyfile(test_checks=checks)


def test_failed_gate_banner_and_failed_row_are_visible_in_chromium(
    pytester: pytest.Pytester, standin_url: str, devtools: DevTools
) -> None:
    """A failed health gate shows as a red NO-GO banner naming the gate, above a visible failed row with its calls."""
    _write_suite(pytester, standin_url, FAILING_GATE, health_path="/status/503")
    result = pytester.runpytest("--deploy-target=staging", "--html=report.html", "--self-contained-html")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    report = pytester.path / "report.html"
    assert not (pytester.path / "assets").exists()  # self-contained: no files beside it

    session = devtools.open(report.as_uri())
    devtools.wait_for(session, "document.querySelectorAll('#results-table tbody.results-table-row').length >= 4")
    page = devtools.evaluate(session, PAGE_FACTS)

    banner = page["banner"]
    assert banner is not None and banner["shown"]
    assert banner["top"] < page["viewport"] / 2, "the verdict must be the first thing on the page"
    assert "deploysmoke-verdict--nogo" in banner["classes"]
    assert banner["text"].splitlines()[0] == "NO-GO"
    assert "gate 'health' failed (test_checks.py::test_health); later phases not run" in banner["text"]
    assert page["title"] == "Smoke: staging 1.2.3"
    assert page["headers"][:6] == ["Result", "Phase", "Test", "Duration", "Slowest call", "Links"]

    [failed] = page["failed"]
    assert failed["shown"] and failed["top"] < page["viewport"]
    assert failed["text"].split("\t")[:3] == ["Failed", "health", "test_checks.py::test_health"]
    assert failed["detailsShown"]
    details = failed["details"]
    assert "Request\nGET /status/503\nResponse\n503" in details
    assert "answered 503" in details and "expected 2xx: status 503" in details
    assert "2\tGET /status/503\t503\t" in details  # the second row of the calls table, with its budget
    assert details.rstrip().endswith("2000")
    assert [row.split("\t")[0] for row in page["environment"]] == ["Target", "Base URL", "Production"]


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_report_has_environment_columns_and_call_details(
    pytester: pytest.Pytester, standin_url: str, xdist: list[str]
) -> None:
    """The environment rows come first and are complete; each row has its phase, slowest call and calls table."""
    _write_suite(pytester, standin_url, PASSING_RUN)
    pytester.makeconftest(SECRET_ROWS)
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "environment_table_redact_list =\n    ^Runner host$\n    ^Pipeline$\n"
    )
    result = pytester.runpytest("--deploy-target=staging", "--html=report.html", "--self-contained-html", *xdist)
    result.assert_outcomes(passed=3, failed=1)
    report = pytester.path / "report.html"
    data = report_data(report)

    assert data["title"] == "Smoke: staging 1.2.3"
    environment = data["environment"]
    assert list(environment)[:13] == [
        "Target",
        "Base URL",
        "Production",
        "Expected version",
        "Reported version",
        "Version source",
        "Started (UTC)",
        "Duration",
        "Runner host",
        "Git commit",
        "Pipeline",
        "Auth",
        "Note",
    ]
    assert environment["Target"] == "staging"
    assert environment["Base URL"] == standin_url
    assert environment["Reported version"] == "1.2.3"
    assert environment["Version source"] == "JSON $.version of GET /health"
    assert environment["Duration"].endswith(" s")
    assert "pending" not in json.dumps(environment) and "end of the run" not in json.dumps(environment)
    assert environment["Note"] == "&lt;i&gt;markup&lt;/i&gt; &amp; more"  # inserted as markup, so escaped
    for blacked_out in ("Runner host", "Pipeline"):  # pytest-html's redact list, also for rows added late
        assert set(environment[blacked_out]) == {"\u2593"}

    rows = {test["testId"]: test for tests in data["tests"].values() for test in tests}
    items = rows["test_checks.py::test_items"]
    assert items["phase"] == "features"
    [slowest] = [cell for cell in items["resultsTableRow"] if 'class="col-slowest"' in cell]
    assert ">GET /slow?s=0.05 " in slowest
    [details] = [extra["content"] for extra in items["extras"] if extra["format_type"] == "html"]
    assert details.count("<tr") == 3  # the header and two calls
    token = rows["test_checks.py::test_token_shown"]
    assert any("deploysmoke-failure" in extra["content"] for extra in token["extras"])

    text = report.read_text(encoding="utf-8")
    for secret in (JWT, URL_PASSWORD, BEARER):
        assert secret not in text


def test_plugin_runs_without_pytest_html(pytester: pytest.Pytester, standin_url: str) -> None:
    """With pytest-html disabled the plugin loads, runs and decides; its pytest-html hooks are optional."""
    _write_suite(pytester, standin_url, PASSING_RUN.replace("pytest.fail", "print"))
    pytester.makeconftest(
        "import pytest\n"
        "@pytest.hookimpl(trylast=True)\n"
        "def pytest_configure(config):\n"
        "    from pytest_deploysmoke.reports.html import HtmlReport\n"
        "    from pytest_deploysmoke.config.settings import get_settings\n"
        "    config.pluginmanager.register(HtmlReport(config, get_settings(config)), 'html-hooks-alone')\n"
    )
    result = pytester.runpytest("--deploy-target=staging", "-p", "no:html")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["deploysmoke verdict: GO"])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    assert not list(pytester.path.glob("*.html"))


class _Text(HTMLParser):
    """The text of an HTML fragment, and the rows of its tables as lists of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.rows: list[list[str]] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th") and self.rows:
            self.rows[-1].append("")
            self._in_cell = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_cell:
            self.rows[-1][-1] += data


def _parsed(fragment: str) -> _Text:
    parser = _Text()
    parser.feed(fragment)
    return parser


def test_latency_row_shows_its_measurement_not_its_slowest_call(pytester: pytest.Pytester, standin_url: str) -> None:
    """A latency check's row shows n, errors, p50/p95/p99 and its budget; its details list the measurement."""
    checks = (
        "import pytest\n\n@pytest.mark.phase('performance')\ndef test_fast(latency):\n"
        "    latency('/health', samples=20, budget='2s')\n"
    )
    _write_suite(pytester, standin_url, checks)
    result = pytester.runpytest("--deploy-target=staging", "--html=report.html", "--self-contained-html")
    result.assert_outcomes(passed=2)
    [row] = [
        test
        for tests in report_data(pytester.path / "report.html")["tests"].values()
        for test in tests
        if test["testId"] == "test_checks.py::test_fast"
    ]
    [cell] = [cell for cell in row["resultsTableRow"] if 'class="col-slowest"' in cell]
    shown = "".join(_parsed(cell).text)
    assert shown.startswith("GET /health: n 20, 0 errors, p50 "), shown
    assert shown.endswith(" (p95 budget 2.00 s)"), shown
    [details] = [extra["content"] for extra in row["extras"] if extra["format_type"] == "html"]
    measured, *calls = _parsed(details).rows
    assert measured[:7] == ["Measured", "n", "Errors", "p50 ms", "p95 ms", "p99 ms", "Budget"]
    [figures] = [r for r in calls if r and r[0] == "GET /health" and len(r) == 7]
    assert figures[1:3] == ["20", "0"] and figures[6] == "p95 budget 2.00 s"
    assert [r[2] for r in calls if len(r) == 5 and r[0] != "#"].count("200 (warm-up)") == 1
