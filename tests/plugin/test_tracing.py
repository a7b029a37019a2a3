"""Trace links: every call carries a W3C traceparent, and a failed check's line names the trace the service recorded.

The target is a stand-in instrumented with the OpenTelemetry SDK (tests/apps/traced.py): the server
spans it read back from ``GET /_spans`` are what a tracing backend would hold.  Each test marks its
requests with a query of its own (``run=<uuid>``), so it finds its spans among every test's.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from tests.fix_browser import CHROMIUM, report_page
from tests.fix_pytester import recorded_calls, recorded_fixture_calls

TRACE_URL = "https://tracing.example.com/trace/{trace_id}"
HEADER = re.compile(r"00-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})-01")
OWN_TRACE, OWN_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
SCHEMA = Path(__file__).parents[2] / "pytest_deploysmoke" / "schemas" / "summary-1.schema.json"


def spans(url: str, run: str) -> list[dict[str, Any]]:
    """The server spans the traced stand-in recorded for the requests of run *run*, in the order they ended."""
    listed: list[dict[str, Any]] = httpx.get(f"{url}/_spans").json()
    return [span for span in listed if f"run={run}" in span.get("http.target", "")]


def span_of(url: str, run: str, target: str) -> dict[str, Any]:
    """The one span of the request to *target* (path and query, without ``run=``) in run *run*."""
    [span] = [s for s in spans(url, run) if _without_run(s["http.target"], run) == target]
    return span


def _without_run(target: str, run: str) -> str:
    path, _, query = target.partition("?")
    rest = "&".join(part for part in query.split("&") if part != f"run={run}")
    return f"{path}?{rest}" if rest else path


def write_project(pytester: pytest.Pytester, url: str, checks: str, target: str = "", conftest: str = "") -> None:
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{url}"\ntimeout = 5.0\n{target}')
    pytester.makepyfile(test_checks=checks)
    if conftest:
        pytester.makeconftest(conftest)


def read_json(pytester: pytest.Pytester, name: str = "smoke.json") -> dict[str, Any]:
    document: dict[str, Any] = json.loads((pytester.path / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(document)
    return document


def check_of(document: dict[str, Any], name: str) -> dict[str, Any]:
    checks: list[dict[str, Any]] = [check for check in document["checks"] if check["nodeid"].endswith(f"::{name}")]
    [check] = checks
    return check


ORDER_CHECKS = """
from pathlib import Path

from pytest_deploysmoke import expect_status


def test_order(http):
    \"\"\"Orders can be placed.\"\"\"
    http.get("/ok?run={run}")
    response = http.get("/fail?run={run}")
    Path("sent.txt").write_text(response.request.headers["traceparent"])
    expect_status(response, 200)


def test_health(http):
    \"\"\"The service is up.\"\"\"
    http.get("/ok?run={run}&check=health")
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_failed_check_names_the_trace_the_service_recorded(
    pytester: pytest.Pytester, traced_url: str, xdist: list[str]
) -> None:
    """A failed check's line ends with its trace id, which is the trace of the span the stand-in recorded for
    the failing call, a child of the span id that call sent; the terminal, the JSON and the ticket agree."""
    run = uuid.uuid4().hex
    write_project(pytester, traced_url, ORDER_CHECKS.format(run=run), f'trace_url = "{TRACE_URL}"\n')
    result = pytester.runpytest("--deploy-target=t", "--deploy-json=smoke.json", "--deploy-ticket=ticket.md", *xdist)
    result.assert_outcomes(passed=1, failed=1)

    sent = HEADER.fullmatch((pytester.path / "sent.txt").read_text())
    assert sent is not None
    trace = sent["trace"]
    failing = span_of(traced_url, run, "/fail")
    assert (failing["trace_id"], failing["parent_span_id"], failing["remote_parent"]) == (trace, sent["span"], True)
    assert span_of(traced_url, run, "/ok")["trace_id"] == trace  # one trace for the whole check
    assert span_of(traced_url, run, "/ok?check=health")["trace_id"] != trace  # another check, another trace

    document = read_json(pytester)
    order = check_of(document, "test_order")
    assert order["message"].endswith(f" (trace {trace})")
    assert order["trace_url"] == f"https://tracing.example.com/trace/{trace}"
    assert [call["trace_id"] for call in order["calls"]] == [trace, trace]
    health = check_of(document, "test_health")
    assert health["trace_url"] is None and health["message"] is None
    assert [call["trace_id"] for call in health["calls"]] == [span_of(traced_url, run, "/ok?check=health")["trace_id"]]
    [reason] = document["verdict"]["reasons"]
    assert reason.startswith("Orders can be placed. failed (test_checks.py::test_order): GET /fail?run=")
    assert reason.endswith(f" (trace {trace})")

    result.stdout.fnmatch_lines(
        [f"  NO-GO: Orders can be placed. failed (test_checks.py::test_order): * (trace {trace})"]
    )
    ticket = (pytester.path / "ticket.md").read_text(encoding="utf-8")
    link = f"(trace [{trace}](https://tracing.example.com/trace/{trace}))"
    [item] = [line for line in ticket.splitlines() if line.startswith("- [ ] Orders can be placed.")]
    assert item.startswith("- [ ] Orders can be placed. — **FAILED**: `GET /fail?run=")
    assert item.endswith(f"` {link}")
    [why] = [line for line in ticket.splitlines() if line.startswith("- Orders can be placed. failed")]
    assert why.endswith(link)


OWN_HEADER_CHECK = """
from pytest_deploysmoke import expect_status


def test_payment(http):
    \"\"\"Payments go through.\"\"\"
    http.get("/ok?run={run}")
    own = {{"traceparent": "00-{trace}-{span}-01"}}
    expect_status(http.get("/fail?run={run}", headers=own), 200)
"""


def test_a_checks_own_traceparent_is_kept(pytester: pytest.Pytester, traced_url: str) -> None:
    """A traceparent the check sets is sent as it is: the stand-in records that trace, the record and the failure
    line carry it, and without trace_url the ticket shows the id as text."""
    run = uuid.uuid4().hex
    write_project(pytester, traced_url, OWN_HEADER_CHECK.format(run=run, trace=OWN_TRACE, span=OWN_SPAN))
    result = pytester.runpytest("--deploy-target=t", "--deploy-json=smoke.json", "--deploy-ticket=ticket.md")
    result.assert_outcomes(failed=1)
    failing = span_of(traced_url, run, "/fail")
    assert (failing["trace_id"], failing["parent_span_id"]) == (OWN_TRACE, OWN_SPAN)
    check_trace = span_of(traced_url, run, "/ok")["trace_id"]
    assert check_trace != OWN_TRACE

    payment = check_of(read_json(pytester), "test_payment")
    assert [call["trace_id"] for call in payment["calls"]] == [check_trace, OWN_TRACE]
    assert payment["message"].endswith(f" (trace {OWN_TRACE})")  # the failed call's trace
    assert payment["trace_url"] is None
    ticket = (pytester.path / "ticket.md").read_text(encoding="utf-8")
    [item] = [line for line in ticket.splitlines() if line.startswith("- [ ] Payments go through.")]
    assert item.endswith(f"the order service is down` (trace {OWN_TRACE})")  # as text, after the message
    assert "](" not in ticket


RETRIED_CHECK = """
def test_flaky(http):
    assert http.get("/flaky?run={run}").status_code == 200


def test_measured(latency):
    latency("/ok?run={run}&by=latency", samples=3, warmup=1)


def test_loaded(load_probe):
    load_probe(users=2, duration="2s", requests=["/ok?run={run}&by=load"], max_requests=6)
"""


def test_each_attempt_and_each_request_is_a_span_of_the_checks_trace(
    pytester: pytest.Pytester, traced_url: str
) -> None:
    """A retried call sends a new span id each attempt in the same trace; the latency fixture's and the load
    probe's requests are each a span of their check's trace, which their records carry."""
    run = uuid.uuid4().hex
    write_project(pytester, traced_url, RETRIED_CHECK.format(run=run), "retries = 1\n")
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=3)
    recorded = {name: recorded_calls(reprec, name) for name in ("test_flaky", "test_measured", "test_loaded")}
    by_check = {
        "test_flaky": [s for s in spans(traced_url, run) if s["name"] == "GET /flaky"],
        "test_measured": [s for s in spans(traced_url, run) if "by=latency" in s["http.target"]],
        "test_loaded": [s for s in spans(traced_url, run) if "by=load" in s["http.target"]],
    }
    assert [(call["attempt"], call["outcome"]) for call in recorded["test_flaky"]] == [(1, "503"), (2, "200")]
    assert [len(by_check[name]) for name in by_check] == [2, 4, 6]
    traces = set()
    for name, found in by_check.items():
        [trace] = {call["trace_id"] for call in recorded[name]}
        assert {span["trace_id"] for span in found} == {trace}, name
        parents = [span["parent_span_id"] for span in found]
        assert len(set(parents)) == len(parents), f"{name}: a span id was sent twice"
        traces.add(trace)
    assert len(traces) == 3


RERUN_CHECK = """
from pathlib import Path


def test_flaky_once(http):
    attempt = "second" if Path("tried").exists() else "first"
    Path("tried").touch()
    assert http.get(f"/ok?run={run}&attempt={{attempt}}").status_code == 200
    assert attempt == "second"
"""


def test_a_rerun_is_a_trace_of_its_own(pytester: pytest.Pytester, traced_url: str) -> None:
    """Under pytest-rerunfailures, each attempt of a check draws a new trace."""
    run = uuid.uuid4().hex
    write_project(pytester, traced_url, RERUN_CHECK.format(run=run))
    result = pytester.runpytest("--deploy-target=t", "--reruns=1")
    assert result.parseoutcomes()["rerun"] == 1 and result.parseoutcomes()["passed"] == 1
    first, second = (span_of(traced_url, run, f"/ok?attempt={n}")["trace_id"] for n in ("first", "second"))
    assert first != second


LOCUST_CHECK = """
def test_loaded(load_probe):
    # 3 requests, within 8 s: Locust's processes may take seconds to start on a loaded machine.
    load_probe(users=1, duration="8s", requests=["/ok?run={run}"], engine="locust", max_requests=3)
"""


def test_locust_requests_carry_the_checks_trace(pytester: pytest.Pytester, traced_url: str) -> None:
    """The Locust engine's requests, sent from its own processes, are spans of the check's trace too."""
    run = uuid.uuid4().hex
    write_project(pytester, traced_url, LOCUST_CHECK.format(run=run))
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    [call] = recorded_calls(reprec, "test_loaded")
    found = spans(traced_url, run)
    assert found and {span["trace_id"] for span in found} == {call["trace_id"]}
    assert len({span["parent_span_id"] for span in found}) == len(found)


WS_CHECK = """
import pytest


@pytest.mark.asyncio
async def test_stream(ws_connect, ahttp):
    await ahttp.get("/ok?run={run}")
    async with ws_connect("/ws?run={run}") as ws:
        assert (await ws.recv_json())["type"] == "hello"
"""


def test_websocket_open_carries_the_checks_trace(pytester: pytest.Pytester, traced_url: str) -> None:
    """A WebSocket handshake carries the check's trace, shared with its HTTP calls, and its record says so."""
    run = uuid.uuid4().hex
    write_project(pytester, traced_url, WS_CHECK.format(run=run))
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    calls = recorded_calls(reprec, "test_stream")
    trace = span_of(traced_url, run, "/ok")["trace_id"]
    opened = span_of(traced_url, run, "/ws")
    assert opened["name"] == "WS /ws" and opened["trace_id"] == trace and opened["remote_parent"]
    assert [(call["kind"], call["trace_id"]) for call in calls if call["action"].startswith(("GET", "connect"))] == [
        ("http", trace),
        ("ws", trace),
    ]


WIDE_FIXTURE = """
import pytest


@pytest.fixture(scope="session")
def order(http):
    http.get("/ok?run={run}&step=setup")
    yield 7
    http.get("/ok?run={run}&step=cleanup")
"""
WIDE_CHECKS = """
def test_one(http, order):
    http.get("/ok?run={run}&check=one")


def test_two(http, order):
    http.get("/ok?run={run}&check=two")
"""


def test_a_wide_fixture_sets_up_and_cleans_up_in_traces_of_its_own(pytester: pytest.Pytester, traced_url: str) -> None:
    """A session fixture's setup and its cleanup are each a trace of their own, not a check's."""
    run = uuid.uuid4().hex
    write_project(pytester, traced_url, WIDE_CHECKS.format(run=run), conftest=WIDE_FIXTURE.format(run=run))
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=2)
    traces = {step: span_of(traced_url, run, f"/ok?{step}")["trace_id"] for step in ("step=setup", "step=cleanup")}
    traces |= {name: span_of(traced_url, run, f"/ok?check={name}")["trace_id"] for name in ("one", "two")}
    assert len(set(traces.values())) == 4
    assert [call["trace_id"] for call in recorded_fixture_calls(reprec, "order")] == [
        traces["step=setup"],
        traces["step=cleanup"],
    ]
    assert [call["trace_id"] for call in recorded_calls(reprec, "test_one")] == [traces["one"]]


def test_the_readiness_wait_is_a_trace_of_its_own(pytester: pytest.Pytester, traced_url: str) -> None:
    """The wait for the target to be ready sends a traceparent too, in a trace no check shares."""
    run = uuid.uuid4().hex
    checks = f'def test_up(http):\n    http.get("/ok?run={run}&check=up")\n'
    write_project(pytester, traced_url, checks, f'wait_ready = 5\nhealth_path = "/health?run={run}"\n')
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    waited = span_of(traced_url, run, "/health")
    assert waited["remote_parent"] and HEADER.fullmatch(waited["http.traceparent"])
    assert waited["trace_id"] != span_of(traced_url, run, "/ok?check=up")["trace_id"]


def test_show_config_shows_trace_url(pytester: pytest.Pytester, traced_url: str) -> None:
    """--deploy-show-config prints trace_url as the run resolves it."""
    write_project(pytester, traced_url, "", f'trace_url = "{TRACE_URL}"\n')
    result = pytester.runpytest("--deploy-target=t", "--deploy-show-config")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f'trace_url = "{TRACE_URL}"'])


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"https://tracing.example.com/trace/"', "is 'https://tracing.example.com/trace/', without {trace_id}"),
        ('"tracing.example.com/trace/{trace_id}"', "is 'tracing.example.com/trace/{trace_id}', not an absolute http"),
        ('"javascript:alert({trace_id})"', "is 'javascript:alert({trace_id})', not an absolute http(s) URL"),
        ("42", "is int 42; expected a string"),
    ],
    ids=["no-placeholder", "no-scheme", "javascript", "not-a-string"],
)
def test_bad_trace_url_is_one_usage_error_line(pytester: pytest.Pytester, value: str, problem: str) -> None:
    """A trace_url that is not an http(s) URL with {trace_id} stops the run before any check, in one line."""
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "http://127.0.0.1:9"\ntrace_url = {value}\n')
    pytester.makepyfile(test_checks="def test_x():\n    pass\n")
    result = pytester.runpytest("--deploy-target=t")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1, errors
    assert errors[0].startswith("ERROR: deploysmoke.toml: [targets.t] trace_url ")
    assert problem in errors[0]
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.stderr.no_fnmatch_line("*Traceback*")


BROWSER_CHECK = """
from pytest_deploysmoke import expect_renders


def test_orders_page(ui_page):
    expect_renders(ui_page, "#answer:has-text('ok')", path="/page?run={run}")
"""


def test_browser_navigation_and_the_pages_requests_carry_the_checks_trace(
    pytester: pytest.Pytester, traced_url: str
) -> None:
    """In headless Chromium, the page's navigation and its fetch to the target are spans of the check's trace,
    each with a span id of its own, and the page's open is recorded with that trace."""
    run = uuid.uuid4().hex
    ui = f'[targets.t.ui]\nbrowser_path = "{CHROMIUM}"\n'
    write_project(pytester, traced_url, BROWSER_CHECK.format(run=run), ui)
    result = pytester.runpytest_subprocess(
        "--deploy-target=t", "-p", "no:cacheprovider", "--deploy-json=smoke.json", timeout=120
    )
    result.assert_outcomes(passed=1)
    navigation, fetched = span_of(traced_url, run, "/page"), span_of(traced_url, run, "/ok?from=page")
    [opened] = [
        call
        for call in check_of(read_json(pytester), "test_orders_page")["calls"]
        if call["action"] == f"open /page?run={run}"
    ]
    assert navigation["trace_id"] == fetched["trace_id"] == opened["trace_id"]
    assert navigation["parent_span_id"] != fetched["parent_span_id"]
    assert navigation["remote_parent"] and fetched["remote_parent"]


HTML_CHECK = """
def test_refund(http):
    \"\"\"Refunds go through.\"\"\"
    assert http.get("/fail?run={run}").status_code == 200
"""
#: A trace_url whose query holds what HTML must escape: the link must still lead exactly there.
ODD_TRACE_URL = 'https://tracing.example.com/trace/{trace_id}?org=1&q=\\"<b>\\"'


def test_html_report_links_the_failed_checks_trace(pytester: pytest.Pytester, traced_url: str) -> None:
    """In the HTML report, opened in headless Chromium, the failed check's trace id is a link to trace_url in
    the verdict banner and in the check's details, its href exactly the URL however odd its characters."""
    run = uuid.uuid4().hex
    write_project(pytester, traced_url, HTML_CHECK.format(run=run), f'trace_url = "{ODD_TRACE_URL}"\n')
    result = pytester.runpytest("--deploy-target=t", "--html=report.html", "--self-contained-html")
    result.assert_outcomes(failed=1)
    trace = span_of(traced_url, run, "/fail")["trace_id"]
    expected = f'https://tracing.example.com/trace/{trace}?org=1&q="<b>"'
    with report_page(pytester.path / "report.html", timeout_ms=30_000) as page:  # Playwright's default timeout
        page.wait_for_selector(".deploysmoke-details", state="attached")
        links = page.eval_on_selector_all(
            "a.deploysmoke-trace",
            "links => links.map(a => [a.closest('#deploysmoke-verdict') ? 'banner' : 'details',"
            " a.textContent, a.getAttribute('href')])",
        )
    # An href cut at the quote, or a <b> let loose, would not read back as exactly the URL.
    assert sorted(links) == [["banner", trace, expected], ["details", trace, expected]]
