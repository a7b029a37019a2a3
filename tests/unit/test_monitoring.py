"""The watch log of a hand-built verdict: the monitoring table, the JSON ``watch`` object, the ticket and HTML sections."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from importlib.resources import files
from typing import Any

import jsonschema
import pytest

from pytest_deploysmoke.config.model import WatchProbe
from pytest_deploysmoke.perf.watch import MAX_ERROR_KINDS, OTHER_KIND, Aggregate, ProbeSample
from pytest_deploysmoke.reports.html import render_monitoring
from pytest_deploysmoke.reports.json_summary import render_json
from pytest_deploysmoke.reports.monitoring import monitoring_table
from pytest_deploysmoke.reports.ticket import render_ticket
from pytest_deploysmoke.results.verdict import CheckResult, RunInfo, Verdict, decide, phase_results
from pytest_deploysmoke.results.watch_log import ProbeFigures, WatchInterval, WatchLog

START = 1_750_000_200.0  # 2025-06-15T15:10:00Z
MiB = 2**20
SCHEMA = json.loads((files("pytest_deploysmoke") / "schemas" / "summary-1.schema.json").read_text(encoding="utf-8"))


def interval(index: int, **changes: Any) -> WatchInterval:
    """A 15-minute interval of the checklists' hour: 24 requests on two probes and 8 WebSocket opens."""
    values: dict[str, Any] = {
        "index": index,
        "start": START + (index - 1) * 900,
        "seconds": 900.0,
        "requests": 24,
        "errors": (("connection refused", 3), ("503", 2)),
        "ws_connects": 8,
        "ws_failures": 1,
        "probes": (
            ProbeFigures("GET /health", 12, 0, 3.1, 4.55, p95_limit_ms=200.0),
            ProbeFigures("GET /api/items?page=1", 12, 5, 40.0, 45.04),
            ProbeFigures("WS /ws/stream", 8, 1, 2.0, 2.5),
        ),
        "p95_ms": 45.04,
        "cpu": 0.12,
        "memory_bytes": 45 * MiB,
        "ws_errors": (("closed code 1011", 1),),
    }
    values.update(changes)
    return WatchInterval(**values)


HOUR = WatchLog(
    duration=3600.0,
    every=900.0,
    planned=4,
    intervals=(
        interval(1),
        interval(2, errors=(), ws_failures=0, ws_errors=(), cpu=None, memory_bytes=None),
        interval(3, requests=0, errors=(), probes=(), p95_ms=None, ws_connects=0, ws_failures=0, ws_errors=()),
    ),
    stopped="rollback",
    max_error_rate=0.05,
)
LINE = "watch window 1 h, 3 of 4 intervals: 48 requests, 5 errors (10.4%: connection refused x3, 503 x2), p95 45 ms"


def verdict_with(log: WatchLog | None, line: str = LINE) -> Verdict:
    run = RunInfo(target="prod", base_url="https://api.example.com", production=True, started=START, finished=START + 1)
    checks = (CheckResult("t.py::test_health", "health", "Health answers", "passed", 0.1),)
    return decide(run, phase_results(("health",), ("health",), checks), checks, watch=line, watch_log=log)


# -- the table both reports show --------------------------------------------------------------------


def test_table_has_a_row_per_interval_like_the_checklists_15_minute_lines() -> None:
    """Time, requests, errors by kind, error rate, p50/p95 per probe, WebSocket failures, CPU and memory."""
    table = monitoring_table(HOUR)
    assert table.header == (
        "Time (UTC)",
        "Requests",
        "Errors",
        "Error rate",
        "GET /health p50 / p95",
        "GET /api/items?page=1 p50 / p95",
        "WS /ws/stream p50 / p95",
        "WebSocket failures",
        "CPU",
        "Memory",
    )
    assert table.rows == (
        (
            "15:10",
            "24",
            "5: connection refused x3, 503 x2",
            "20.8%",
            "3.1 ms / 4.5 ms",
            "40 ms / 45 ms, 5 failed",
            "2.0 ms / 2.5 ms, 1 failed",
            "1/8: closed code 1011 x1",
            "12%",
            "45.0 MiB",
        ),
        (
            "15:25",
            "24",
            "0",
            "0%",
            "3.1 ms / 4.5 ms",
            "40 ms / 45 ms, 5 failed",
            "2.0 ms / 2.5 ms, 1 failed",
            "0/8",
            "—",
            "—",
        ),
        ("15:40", "0", "0", "—", "—", "—", "—", "—", "12%", "45.0 MiB"),
    )
    assert table.ended == (
        "Stopped early after 3 of 4 intervals: a rollback rule tripped (1 h window, an interval every 15 min); "
        "rollback at an error rate of 5%."
    )
    assert [table.header[i] for i in table.numeric] == [
        "Requests",
        "Error rate",
        "GET /health p50 / p95",
        "GET /api/items?page=1 p50 / p95",
        "WS /ws/stream p50 / p95",
        "CPU",
        "Memory",
    ]


@pytest.mark.parametrize(
    ("every", "stopped", "ended"),
    [
        (2.0, "", "Ran to its end: 1 of 2 intervals (4.0 s window, an interval every 2.0 s)."),
        (
            2.0,
            "interrupted",
            "Stopped early after 1 of 2 intervals: interrupted (4.0 s window, an interval every 2.0 s).",
        ),
    ],
)
def test_short_intervals_show_seconds_and_how_the_window_ended(every: float, stopped: str, ended: str) -> None:
    """Intervals under a minute apart show HH:MM:SS, so that their rows are told apart."""
    log = WatchLog(4.0, every, 2, (interval(1, start=START + 3.25),), stopped=stopped)
    table = monitoring_table(log)
    assert table.rows[0][0] == "15:10:03"
    assert table.ended == ended


# -- the aggregate: errors by kind, bounded ----------------------------------------------------------


def test_aggregate_counts_errors_by_kind_most_frequent_first() -> None:
    """The interval line breaks its errors down by what they got, the most frequent kind first."""
    health = WatchProbe("http", "GET", "/health", health=True)
    stream = WatchProbe("ws", "WS", "/ws/stream")
    aggregate = Aggregate({}, probes={})
    for sample in (
        ProbeSample(health, 3.0, ok=True),
        ProbeSample(health, 4.0, ok=False, error="503"),
        ProbeSample(health, None, ok=False, error="connection refused"),
        ProbeSample(health, None, ok=False, error="connection refused"),
        ProbeSample(stream, 2.0, ok=False, error="closed code 1011"),
        ProbeSample(stream, 2.0, ok=True),
    ):
        aggregate.add(sample, 0)
    assert aggregate.describe() == (
        "4 requests, 3 errors (75%: connection refused x2, 503 x1), p95 4.0 ms, "
        "WebSocket failures 1/2 (closed code 1011 x1)"
    )
    assert aggregate.probes is not None
    assert {name: (tally.requests, tally.errors) for name, tally in aggregate.probes.items()} == {
        "GET /health": (4, 3),
        "WS /ws/stream": (2, 1),
    }


def test_error_kinds_are_capped_so_that_varying_wording_cannot_grow_an_aggregate() -> None:
    """Past MAX_ERROR_KINDS kinds, further kinds count as 'other'."""
    probe = WatchProbe("http", "GET", "/x")
    aggregate = Aggregate({})
    for n in range(MAX_ERROR_KINDS + 5):
        aggregate.add(ProbeSample(probe, None, ok=False, error=f"received {n} bytes"), 0)
    assert len(aggregate.error_kinds) == MAX_ERROR_KINDS + 1
    assert aggregate.error_kinds[OTHER_KIND] == 5
    assert aggregate.probes is None  # the whole window's aggregate keeps no probe apart


# -- the JSON summary ------------------------------------------------------------------------------------


def test_json_watch_object_holds_each_interval_and_validates() -> None:
    """``watch`` carries the plan, the line and each interval with the issue's names; the schema accepts it."""
    document = json.loads(render_json(verdict_with(HOUR)))
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    watch = document["watch"]
    assert {key: value for key, value in watch.items() if key != "intervals"} == {
        "duration_s": 3600.0,
        "every_s": 900.0,
        "planned": 4,
        "stopped": "rollback",
        "line": LINE,
        "max_error_rate": 0.05,
    }
    first, second, third = watch["intervals"]
    assert first == {
        "start": "2025-06-15T15:10:00.000Z",
        "seconds": 900.0,
        "requests": 24,
        "errors": {"connection refused": 3, "503": 2},
        "error_rate": 0.2083,
        "p95_ms": 45.0,
        "probes": {
            "GET /health": {"p50_ms": 3.1, "p95_ms": 4.5, "requests": 12, "errors": 0},
            "GET /api/items?page=1": {"p50_ms": 40.0, "p95_ms": 45.0, "requests": 12, "errors": 5},
            "WS /ws/stream": {"p50_ms": 2.0, "p95_ms": 2.5, "requests": 8, "errors": 1},
        },
        "ws_connects": 8,
        "ws_failures": 1,
        "cpu": 0.12,
        "memory_bytes": 45 * MiB,
    }
    assert list(first["errors"]) == ["connection refused", "503"]  # most frequent first
    assert (second["errors"], second["error_rate"], second["cpu"], second["memory_bytes"]) == ({}, 0.0, None, None)
    assert (third["requests"], third["error_rate"], third["probes"], third["p95_ms"]) == (0, None, {}, None)


def test_json_watch_is_null_without_a_window() -> None:
    """A run without a watch window, or whose window was skipped, has ``"watch": null``."""
    document = json.loads(render_json(verdict_with(None, "watch window skipped: the checks already say NO-GO")))
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert document["watch"] is None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("stopped",), "finished"),
        (("intervals", 0, "errors", "503"), 0),
        (("intervals", 0, "error_rate"), 1.5),
        (("intervals", 0, "probes", "GET /health", "p99_ms"), 1.0),
        (("intervals", 0, "memory_bytes"), 1.5),
        (("intervals", 0, "start"), "15:10"),
    ],
    ids=["stopped", "zero-count", "rate", "probe-key", "memory", "start"],
)
def test_schema_rejects_a_watch_object_the_writer_never_writes(path: tuple[str | int, ...], value: object) -> None:
    """The watch object is as strict as the rest: unknown keys, counts of 0 and values out of range fail."""
    document = json.loads(render_json(verdict_with(HOUR)))
    node: Any = document["watch"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(document)


# -- the ticket and the HTML report -------------------------------------------------------------------------


def test_ticket_has_a_monitoring_section_after_the_checklist() -> None:
    """The ticket's Monitoring section: how the window ended, then the table; none without a window."""
    ticket = render_ticket(verdict_with(HOUR))
    section = ticket.split("### Monitoring\n\n", 1)[1].split("\n\n### ", 1)[0]
    lead, table = section.split("\n\n")
    assert lead == monitoring_table(HOUR).ended
    lines = table.splitlines()
    assert lines[0].startswith("| Time (UTC) | Requests | Errors | Error rate | GET /health p50 / p95 |")
    assert lines[1] == "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |"
    assert lines[2] == (
        "| 15:10 | 24 | 5: connection refused x3, 503 x2 | 20.8% | 3.1 ms / 4.5 ms | 40 ms / 45 ms, 5 failed "
        "| 2.0 ms / 2.5 ms, 1 failed | 1/8: closed code 1011 x1 | 12% | 45.0 MiB |"
    )
    assert len(lines) == 5
    assert ticket.index("### health") < ticket.index("### Monitoring") < ticket.index("### Environment")
    assert "### Monitoring" not in render_ticket(verdict_with(None))


def test_ticket_keeps_markup_in_a_probe_name_literal() -> None:
    """A probe's name with Markdown in it is escaped like any other text of the run; a pipe does not split a cell."""
    odd = WatchLog(2.0, 1.0, 1, (interval(1, probes=(ProbeFigures("GET /a|b?[x]", 1, 0, 1.0, 1.0),)),))
    ticket = render_ticket(verdict_with(odd))
    assert "| GET /a\\|b?\\[x\\] p50 / p95 |" in ticket


class _Cells(HTMLParser):
    """The text of each table cell in an HTML fragment, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.paragraphs: list[str] = []
        self._where = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")
        if tag in ("td", "th", "p"):
            self._where = tag
            if tag == "p":
                self.paragraphs.append("")

    def handle_endtag(self, tag: str) -> None:
        self._where = ""

    def handle_data(self, data: str) -> None:
        if self._where in ("td", "th"):
            self.rows[-1][-1] += data
        elif self._where == "p":
            self.paragraphs[-1] += data


def test_html_monitoring_section_is_the_same_table_escaped() -> None:
    """The HTML section holds the same cells as the ticket's table, escaped; none without a window."""
    odd = WatchLog(
        3600.0, 900.0, 4, (interval(1, probes=(ProbeFigures("GET /<script>", 1, 0, 1.0, 1.0),)),), max_error_rate=0.05
    )
    fragment = render_monitoring(verdict_with(odd), str)
    assert "<script>" not in fragment.replace("<style>", "").split("</style>", 1)[1]
    parsed = _Cells()
    parsed.feed(fragment)
    table = monitoring_table(odd)
    assert parsed.paragraphs == [table.ended]
    assert parsed.rows == [list(table.header), *map(list, table.rows)]
    assert render_monitoring(verdict_with(None), str) == ""
