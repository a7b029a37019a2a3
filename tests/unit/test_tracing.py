"""Trace context and trace links without a run: the header, trace_url, and how each writer shows a failed check's trace."""

from __future__ import annotations

import json
import re
import textwrap
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_deploysmoke.clients import tracecontext
from pytest_deploysmoke.config.model import Target
from pytest_deploysmoke.config.parse import build_target, load_config
from pytest_deploysmoke.errors import ConfigError
from pytest_deploysmoke.reports.html import render_banner, render_details
from pytest_deploysmoke.reports.json_summary import summary_document
from pytest_deploysmoke.reports.ticket import render_ticket
from pytest_deploysmoke.results.records import CallRecord
from pytest_deploysmoke.results.summary import with_trace
from pytest_deploysmoke.results.verdict import CheckResult, RunInfo, Verdict, decide, phase_results, trace_of

HEADER = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01")
TRACE, OTHER = "4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"
SPAN = "00f067aa0ba902b7"


# -- the header ---------------------------------------------------------------------------------


def test_traceparent_is_version_00_sampled_with_a_new_span_each_time() -> None:
    """A header is ``00-<trace>-<span>-01``; each one in a trace has a span id of its own."""
    headers = {tracecontext.traceparent(TRACE) for _ in range(50)}
    assert len(headers) == 50
    assert all(HEADER.fullmatch(header) and header.split("-")[1] == TRACE for header in headers)
    assert tracecontext.traceparent(TRACE, SPAN) == f"00-{TRACE}-{SPAN}-01"


def test_new_ids_are_random_lower_case_hex_and_never_zero() -> None:
    """Trace ids are 32 hex digits, span ids 16; both differ every time."""
    traces = {tracecontext.new_trace_id() for _ in range(50)}
    spans = {tracecontext.new_span_id() for _ in range(50)}
    assert len(traces) == len(spans) == 50
    assert all(re.fullmatch(r"[0-9a-f]{32}", t) and t != "0" * 32 for t in traces)
    assert all(re.fullmatch(r"[0-9a-f]{16}", s) and s != "0" * 16 for s in spans)


@pytest.mark.parametrize(
    ("header", "trace_id"),
    [
        (f"00-{TRACE}-{SPAN}-01", TRACE),
        (f"00-{TRACE}-{SPAN}-00", TRACE),  # not sampled: still a trace
        (f" 00-{TRACE}-{SPAN}-01 ", TRACE),
        (f"01-{TRACE}-{SPAN}-01-more", TRACE),  # a later version may add fields
        (f"00-{TRACE}-{SPAN}-01-more", ""),  # version 00 has exactly four
        (f"ff-{TRACE}-{SPAN}-01", ""),
        (f"00-{'0' * 32}-{SPAN}-01", ""),
        (f"00-{TRACE}-{'0' * 16}-01", ""),
        (f"00-{TRACE.upper()}-{SPAN}-01", ""),
        (f"00-{TRACE[:-1]}-{SPAN}-01", ""),
        ("my-own-correlation-id", ""),
        ("", ""),
    ],
)
def test_trace_id_of_reads_only_valid_headers(header: str, trace_id: str) -> None:
    """The trace id of a header, as the W3C spec reads it; "" for an invalid one."""
    assert tracecontext.trace_id_of(header) == trace_id


def test_a_callers_header_is_kept_and_found_whatever_its_case() -> None:
    """The caller's own traceparent is sent unchanged on every attempt; its name is found in any case."""
    own = f"00-{TRACE}-{SPAN}-01"
    assert tracecontext.header_in({"Accept": "*/*", "TraceParent": own}) == own
    assert tracecontext.header_in({"Accept": "*/*"}) is None
    kept = tracecontext.Outgoing(TRACE, own)
    assert kept.header() == kept.header() == own
    ours = tracecontext.Outgoing(TRACE)
    first, second = ours.header(), ours.header()
    assert first != second and first.split("-")[1] == second.split("-")[1] == TRACE


# -- trace_url ------------------------------------------------------------------------------------


def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trace_url: str) -> Target:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "deploysmoke.toml"
    path.write_text(
        textwrap.dedent(
            f"""\
            [targets.prod]
            base_url = "https://shop.example.com"
            trace_url = {trace_url}
            """
        ),
        encoding="utf-8",
    )
    return build_target(load_config(path), "prod", {"TEMPO": "https://tempo.example.com"})


def test_trace_url_fills_in_the_trace_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """trace_url, with ${VAR} expanded, is where a trace id is shown: its {trace_id} replaced, nothing else."""
    target = build(tmp_path, monkeypatch, '"${TEMPO}/explore?trace={trace_id}&range={from}"')
    assert target.trace_url == "${TEMPO}/explore?trace={trace_id}&range={from}".replace(
        "${TEMPO}", "https://tempo.example.com"
    )
    assert target.trace_link(TRACE) == f"https://tempo.example.com/explore?trace={TRACE}&range={{from}}"
    assert target.trace_link("") == ""
    assert Target("t", "http://h", "ws://h").trace_link(TRACE) == ""


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"https://tracing.example.com/trace/"', "is 'https://tracing.example.com/trace/', without {trace_id}"),
        ('"/trace/{trace_id}"', "is '/trace/{trace_id}', not an absolute http(s) URL"),
        ('"ftp://tracing.example.com/{trace_id}"', "not an absolute http(s) URL"),
        ('"https://[::1/{trace_id}"', "not an absolute http(s) URL"),
        ('"https://user:pw@tracing.example.com/trace/"', "is 'https://user:***@tracing.example.com/trace/'"),
    ],
)
def test_bad_trace_url_is_a_config_error_that_says_what_to_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    """A trace_url without {trace_id}, or not an http(s) URL, is one line naming the key and an example."""
    with pytest.raises(ConfigError) as excinfo:
        build(tmp_path, monkeypatch, value)
    message = str(excinfo.value)
    assert message.startswith("deploysmoke.toml: [targets.prod] trace_url ")
    assert problem in message
    assert message.endswith("e.g. 'https://tracing.example.com/trace/{trace_id}'")
    assert "pw@" not in message


# -- a check's trace ------------------------------------------------------------------------------


def call(action: str, trace_id: str = TRACE, *, ok: bool = True, kind: Any = "http") -> CallRecord:
    return CallRecord(kind, action, "200" if ok else "500", ok=ok, ms=3.0, trace_id=trace_id)


def test_a_checks_trace_is_its_failed_calls_else_its_last_calls() -> None:
    """The failed call's trace wins (a header of the check's own); else the last call that carried one."""
    assert trace_of([call("GET /a"), call("GET /b", OTHER, ok=False), call("GET /c")]) == OTHER
    assert trace_of([call("GET /a", OTHER), call("GET /b"), call("PING", "", kind="redis")]) == TRACE
    assert trace_of([call("PING", "", ok=False, kind="redis")]) == ""


def failed_check(message: str = "GET /orders answered 500 in 3 ms", **changes: Any) -> CheckResult:
    fields: dict[str, Any] = {
        "nodeid": "t.py::test_orders",
        "phase": "features",
        "title": "Orders are listed",
        "outcome": "failed",
        "duration": 0.1,
        "message": message,
        "calls": (call("GET /health"), call("GET /orders", ok=False)),
        **changes,
    }
    return CheckResult(**fields)


def test_with_trace_ends_a_failed_checks_line_with_its_trace_and_fills_trace_url() -> None:
    """Only a failed check whose calls carried a trace gets the note and the link (redacted)."""
    target = Target("t", "http://h", "ws://h", trace_url="https://tracing.example.com/t/{trace_id}?key=s3cret")
    traced = with_trace(failed_check(), target, lambda text: text.replace("s3cret", "***"))
    assert traced.message == f"GET /orders answered 500 in 3 ms (trace {TRACE})"
    assert traced.trace_url == f"https://tracing.example.com/t/{TRACE}?key=***"
    assert with_trace(failed_check(message=""), target, str).message == f"(trace {TRACE})"
    passed = failed_check(outcome="passed", message="")
    assert with_trace(passed, target, str) is passed
    untraced = failed_check(calls=(call("PING", "", ok=False, kind="redis"),))
    assert with_trace(untraced, target, str) is untraced
    assert with_trace(failed_check(), Target("t", "http://h", "ws://h"), str).trace_url == ""


# -- the writers ----------------------------------------------------------------------------------

RUN = RunInfo(target="prod", base_url="https://shop.example.com", production=True)


def verdict_of(*checks: CheckResult) -> Verdict:
    return decide(RUN, phase_results(("features",), (), checks), checks)


def traced(
    message: str = "GET /orders answered 500 in 3 ms", url: str = "https://tracing.example.com/t/{trace_id}"
) -> CheckResult:
    target = Target("t", "http://h", "ws://h", trace_url=url)
    return with_trace(failed_check(message), target, str)


def test_ticket_links_the_trace_on_the_checks_line_and_in_the_reasons() -> None:
    """With trace_url, the trace id is a Markdown link after the message's code span, and in "Why NO-GO"."""
    ticket = render_ticket(verdict_of(traced()))
    link = f"(trace [{TRACE}](https://tracing.example.com/t/{TRACE}))"
    assert f"- [ ] Orders are listed — **FAILED**: `GET /orders answered 500 in 3 ms` {link}" in ticket.splitlines()
    assert (
        f"- Orders are listed failed (t.py::test_orders): GET /orders answered 500 in 3 ms {link}"
        in ticket.splitlines()
    )


def test_ticket_shows_the_trace_as_text_without_trace_url_and_never_cuts_it_off() -> None:
    """Without trace_url the id is text; a message cut to one line still ends with the whole trace id."""
    ticket = render_ticket(verdict_of(traced("x" * 400, url="")))
    [item] = [line for line in ticket.splitlines() if line.startswith("- [ ] Orders are listed")]
    assert item.endswith(f"…` (trace {TRACE})")
    assert "](" not in ticket


def test_ticket_link_destination_survives_spaces_and_brackets() -> None:
    """A trace_url with characters that would end a Markdown link is percent-encoded in the destination."""
    ticket = render_ticket(verdict_of(traced(url="https://tracing.example.com/q=(service a)<{trace_id}>")))
    assert f"(trace [{TRACE}](https://tracing.example.com/q=%28service%20a%29%3C{TRACE}%3E))" in ticket


class _Anchors(HTMLParser):
    """Every ``<a>``: its href and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append([dict(attrs).get("href") or "", ""])

    def handle_data(self, data: str) -> None:
        if self.anchors and not self.anchors[-1][1]:
            self.anchors[-1][1] = data


def anchors(html: str) -> list[list[str]]:
    parser = _Anchors()
    parser.feed(html)
    return parser.anchors


def test_html_banner_and_details_link_the_trace_escaped() -> None:
    """The banner's reason and the details' Trace row link the trace id; an odd trace_url stays one escaped href."""
    url = 'https://tracing.example.com/t/{trace_id}?a=1&b="><script>x</script>'
    check = traced(url=url)
    expected = url.replace("{trace_id}", TRACE)
    assert anchors(render_banner(verdict_of(check), str)) == [[expected, TRACE]]
    details = render_details(check.calls, [("call", "GET /orders answered 500")], str, (), (TRACE, expected))
    assert anchors(details) == [[expected, TRACE]]
    assert "<script>" not in details
    plain = render_details(check.calls, [("call", "GET /orders answered 500")], str, (), (TRACE, ""))
    assert anchors(plain) == [] and f"<dt>Trace</dt><dd>{TRACE}</dd>" in plain
    assert anchors(render_banner(verdict_of(traced(url="")), str)) == []


def test_json_has_each_calls_trace_and_the_failed_checks_trace_url() -> None:
    """calls[].trace_id is null for a call that carried none; checks[].trace_url only for the failed, traced one."""
    passed = CheckResult(
        "t.py::test_cache", "features", "Cache answers", "passed", 0.1, calls=(call("PING", "", kind="redis"),)
    )
    document = summary_document(verdict_of(traced(), passed))
    schema = json.loads((files("pytest_deploysmoke") / "schemas" / "summary-1.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(document)
    failed, cache = document["checks"]
    assert [c["trace_id"] for c in failed["calls"]] == [TRACE, TRACE]
    assert failed["trace_url"] == f"https://tracing.example.com/t/{TRACE}"
    assert (cache["calls"][0]["trace_id"], cache["trace_url"]) == (None, None)
    failed["calls"][0]["trace_id"] = TRACE.upper()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(document)


def test_every_trace_url_on_the_docs_page_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The trace_url examples on docs/tracing.md are addresses the config takes, and they fill in the trace id."""
    page = (Path(__file__).parents[2] / "docs" / "tracing.md").read_text(encoding="utf-8")
    examples = re.findall(r"`(https://[^`]*\{trace_id\}[^`]*)`", page)
    assert len(examples) >= 3
    for example in examples:
        target = build(tmp_path, monkeypatch, json.dumps(example))
        assert TRACE in target.trace_link(TRACE)
