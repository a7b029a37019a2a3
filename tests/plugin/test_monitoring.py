"""The monitoring log: each watch interval's figures, with errors by kind, in the terminal, the JSON, the ticket and the HTML.

The target is a stand-in on loopback with fault switches on two paths: ``/flaky`` answers 503 to
every second request and ``/reset`` resets the connection; it counts what it served, so the
reports' figures are checked against it.  Its ``/metrics`` serves Prometheus text whose CPU
seconds and resident memory grow by a known step on each read.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.doc_pages import DOCS, fenced_blocks, read_page
from tests.fix_browser import report_page
from tests.fix_servers import socketserver_in_thread

SCHEMA = json.loads((files("pytest_deploysmoke") / "schemas" / "summary-1.schema.json").read_text(encoding="utf-8"))
MiB = 2**20
#: Each read of /metrics adds this much CPU time and this much resident memory to what it says.
CPU_STEP_S = 1.5
MEMORY_BASE = 40 * MiB
RESET = "connection reset by peer"
PAGE = DOCS / "monitoring.md"


class FaultyService(socketserver.ThreadingTCPServer):
    """A tiny HTTP/1.1 service: /health answers 200, /flaky 503 every second time, /reset resets the connection."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.served: Counter[str] = Counter()  # (path, what it got) -> times
        self.flaky_seen = 0
        self.metrics_reads = 0

    def answer(self, path: str) -> tuple[int, bytes] | None:
        """The status and body for *path*, or None to reset the connection; counted in ``served``."""
        with self.lock:
            if path == "/flaky":
                self.flaky_seen += 1
                status = 503 if self.flaky_seen % 2 == 0 else 200
                self.served[f"{path} {status}"] += 1
                return status, b"upstream unavailable" if status == 503 else b"ok"
            if path == "/reset":
                self.served[f"{path} reset"] += 1
                return None
            if path == "/metrics":
                self.metrics_reads += 1
                reads = self.metrics_reads
                text = (
                    "# TYPE process_cpu_seconds counter\n"
                    f"process_cpu_seconds_total {CPU_STEP_S * reads}\n"
                    "# TYPE process_resident_memory_bytes gauge\n"
                    f"process_resident_memory_bytes {float(MEMORY_BASE + reads * MiB)}\n"
                )
                return 200, text.encode()
            self.served[f"{path} 200"] += 1
            return 200, b'{"status": "ok"}'


class _Handler(socketserver.BaseRequestHandler):
    server: FaultyService

    def handle(self) -> None:
        sock: socket.socket = self.request
        buffer = b""
        while True:  # keep-alive: one request after another on the connection
            while b"\r\n\r\n" not in buffer:
                try:
                    chunk = sock.recv(65536)
                except OSError:  # the client went away (a run that was interrupted)
                    return
                if not chunk:
                    return
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            path = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
            answer = self.server.answer(path)
            if answer is None:  # SO_LINGER 0: the close sends a reset, the client gets ECONNRESET
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                return
            status, body = answer
            sock.sendall(
                b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                % (status, b"OK" if status == 200 else b"Service Unavailable", len(body), body)
            )


@pytest.fixture
def faulty() -> Iterator[tuple[str, FaultyService]]:
    """The faulty stand-in, served in a thread on 127.0.0.1; its URL and the server (for what it served)."""
    server = FaultyService()
    with socketserver_in_thread(server) as url:
        yield url, server


CHECKS = """
import pytest

@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/health").status_code == 200
"""

CONFIG = """
[targets.t]
base_url = "{url}"

[targets.t.budgets]
"GET /health" = ["1s", "5s"]

[targets.t.watch]
every = "1s"
probes = ["health", "GET /flaky", "GET /reset"]
metrics_url = "/metrics"

[targets.t.rollback]
{rollback}
"""
#: error_rate trips only when every request fails, which /health never does: the window runs to its end.
TO_THE_END = 'error_rate = "100%"'
PROBES = ("GET /health", "GET /flaky", "GET /reset")


def write_project(pytester: pytest.Pytester, url: str, rollback: str = TO_THE_END, checks: str = CHECKS) -> None:
    pytester.makefile(".toml", deploysmoke=CONFIG.format(url=url, rollback=rollback))
    pytester.makepyfile(test_checks=checks)


def watch_run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any], str]:
    """Run the project with a 2-second window and every report; the result, the validated JSON and the ticket."""
    result = pytester.runpytest(
        "--deploy-target=t",
        "--deploy-watch=2s",
        "--deploy-json=summary.json",
        "--deploy-ticket=ticket.md",
        *args,
    )
    summary: dict[str, Any] = json.loads((pytester.path / "summary.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(summary)
    return result, summary, (pytester.path / "ticket.md").read_text(encoding="utf-8")


def interval_lines(result: pytest.RunResult) -> list[str]:
    """The window's interval lines, without their ``deploysmoke HH:MM:SS +1.0 s [1/2]: `` lead."""
    return [match[1] for line in result.outlines if (match := re.match(r"deploysmoke .* \[\d+/\d+\]: (.*)$", line))]


def breakdown(line: str) -> dict[str, int]:
    """``5 errors (20.8%: connection reset by peer x3, 503 x2)`` -> {"connection reset by peer": 3, "503": 2}."""
    found = re.search(r"\d+ errors \([\d.]+%(?:: (?P<kinds>[^)]*))?\)", line)
    assert found is not None, line
    kinds = found["kinds"] or ""
    return {kind: int(count) for kind, count in re.findall(r"(.+?) x(\d+)(?:, |$)", kinds)}


def monitoring_section(ticket: str) -> tuple[str, list[list[str]]]:
    """The ticket's Monitoring section: its first paragraph and its table's rows (header first), cell by cell."""
    section = ticket.split("### Monitoring\n\n", 1)[1].split("\n### ", 1)[0]
    lead, _, table = section.partition("\n\n")
    rows = [
        [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        for line in table.splitlines()
        if line.startswith("|")
    ]
    return lead, [rows[0], *rows[2:]]  # without the alignment row


def html_monitoring(report: Path) -> dict[str, Any]:
    """Open the HTML report in headless Chromium; the monitoring section's sentence and table as shown."""
    with report_page(report) as page:
        section = page.locator("#deploysmoke-monitoring")
        section.wait_for(state="visible")
        shown: dict[str, Any] = section.evaluate(
            """s => ({
                lead: s.querySelector('p').innerText,
                rows: [...s.querySelectorAll('tr')].map(tr => [...tr.children].map(c => c.innerText.trim())),
            })"""
        )
        shown["charts"] = page.locator("figure.deploysmoke-chart--watch").evaluate_all(
            """figures => figures.map(f => {
                const box = f.querySelector('svg').getBoundingClientRect();
                return {width: box.width, height: box.height, text: f.textContent};
            })"""
        )
    return shown


def test_each_interval_breaks_errors_down_by_kind_in_every_report(
    pytester: pytest.Pytester, faulty: tuple[str, FaultyService]
) -> None:
    """503s and resets are counted by kind, per interval and per probe, the same in the terminal, JSON, ticket and HTML."""
    url, server = faulty
    write_project(pytester, url)
    result, summary, ticket = watch_run(pytester, "--html=report.html", "--self-contained-html")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()

    # JSON: the plan, how it ended, and each interval's figures, which add up to what the stand-in served.
    watch = summary["watch"]
    assert {key: watch[key] for key in ("duration_s", "every_s", "planned", "stopped", "max_error_rate")} == {
        "duration_s": 2.0,
        "every_s": 1.0,
        "planned": 2,
        "stopped": None,
        "max_error_rate": 1.0,
    }
    assert watch["line"].startswith("watch window 2.0 s, 2 of 2 intervals: ")
    assert f"deploysmoke {watch['line']}" in result.outlines
    intervals = watch["intervals"]
    assert len(intervals) == 2
    for index, interval in enumerate(intervals):
        probes = interval["probes"]
        assert list(probes) == list(PROBES)
        flaky, reset, health = probes["GET /flaky"], probes["GET /reset"], probes["GET /health"]
        by_kind = {"503": flaky["errors"], RESET: reset["requests"]}
        assert interval["errors"] == {kind: count for kind, count in by_kind.items() if count}
        assert reset["errors"] == reset["requests"] > 0 and (reset["p50_ms"], reset["p95_ms"]) == (None, None)
        assert health["errors"] == 0 and 0 < health["p50_ms"] <= health["p95_ms"]
        assert flaky["requests"] >= 2 * flaky["errors"] - 1  # every second /flaky request answers 503
        assert interval["requests"] == sum(probe["requests"] for probe in probes.values())
        assert interval["error_rate"] == round(sum(interval["errors"].values()) / interval["requests"], 4)
        assert (interval["ws_connects"], interval["ws_failures"]) == (0, 0)
        assert interval["memory_bytes"] == MEMORY_BASE + (index + 2) * MiB  # the read after the interval
        assert interval["cpu"] > 0
    assert sum(interval["errors"].get("503", 0) for interval in intervals) == server.served["/flaky 503"] > 0
    assert sum(interval["errors"][RESET] for interval in intervals) == server.served["/reset reset"]
    first, second = (datetime.fromisoformat(i["start"].replace("Z", "+00:00")) for i in intervals)
    assert first < second

    # The terminal: each interval's line breaks its errors down as the JSON counts them.
    lines = interval_lines(result)
    assert len(lines) == 2
    for line, interval in zip(lines, intervals, strict=True):
        assert breakdown(line) == interval["errors"], line
        assert list(breakdown(line).values()) == sorted(interval["errors"].values(), reverse=True)
        assert f", CPU {CPU_STEP_S:.2f} s (" in line
        assert line.endswith(f"RSS {interval['memory_bytes'] / MiB:.1f} MiB"), line

    # The ticket: one row per interval, the time of its start, its errors by kind.
    lead, rows = monitoring_section(ticket)
    assert (
        lead
        == "Ran to its end: 2 of 2 intervals (2.0 s window, an interval every 1.0 s); rollback at an error rate of 100%."
    )
    header, *body = rows
    assert header == [
        "Time (UTC)",
        "Requests",
        "Errors",
        "Error rate",
        *(f"{probe} p50 / p95" for probe in PROBES),
        "WebSocket failures",
        "CPU",
        "Memory",
    ]
    assert len(body) == 2
    for row, interval in zip(body, intervals, strict=True):
        assert row[0] == interval["start"][11:19]  # HH:MM:SS UTC: the intervals are shorter than a minute
        assert row[1] == str(interval["requests"])
        kinds = ", ".join(f"{kind} x{count}" for kind, count in interval["errors"].items())
        assert row[2] == f"{sum(interval['errors'].values())}: {kinds}"
        assert row[3] == f"{interval['error_rate'] * 100:.1f}%".replace(".0%", "%")
        assert row[4].endswith(" ms") and row[6] == "—"  # /reset got no answer to time
        flaky_failed = interval["probes"]["GET /flaky"]["errors"]
        assert row[5].endswith(f", {flaky_failed} failed" if flaky_failed else " ms")
        assert row[7] == "—"  # no WebSocket probe
        assert row[8] == f"{interval['cpu']:.0%}"
        assert row[9] == f"{interval['memory_bytes'] / MiB:.1f} MiB"

    # The HTML report shows the very same table in Chromium.
    shown = html_monitoring(pytester.path / "report.html")
    assert shown["lead"] == lead
    assert shown["rows"] == rows
    # ... and draws the window: p95 per probe over time, and the error rate, each a visible chart.
    p95_chart, rate_chart = shown["charts"]
    assert all(chart["width"] > 100 and chart["height"] > 100 for chart in shown["charts"])
    assert all(probe in p95_chart["text"] for probe in ("GET /flaky", "GET /health"))
    assert "error rate" in rate_chart["text"].lower()


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_window_stopped_by_a_rollback_rule_logs_the_interval_that_tripped_it(
    pytester: pytest.Pytester, faulty: tuple[str, FaultyService], xdist: list[str]
) -> None:
    """With the checklist's 5% error rule, the first interval trips it: its row is logged and the window says it
    stopped; under pytest-xdist the controller runs the window and writes the same log."""
    url, server = faulty
    write_project(pytester, url, rollback="min_samples = 3")
    result, summary, ticket = watch_run(pytester, *xdist)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert summary["verdict"]["decision"] == "ROLLBACK"
    watch = summary["watch"]
    assert (watch["stopped"], watch["max_error_rate"], len(watch["intervals"])) == ("rollback", 0.05, 1)
    [interval] = watch["intervals"]
    assert interval["errors"][RESET] == server.served["/reset reset"] > 0
    assert interval["errors"].get("503", 0) == server.served["/flaky 503"]
    assert watch["line"].endswith("; stopped early: a rollback rule tripped")
    lead, rows = monitoring_section(ticket)
    assert lead == (
        "Stopped early after 1 of 2 intervals: a rollback rule tripped "
        "(2.0 s window, an interval every 1.0 s); rollback at an error rate of 5%."
    )
    assert len(rows) == 2  # the header and the one interval


FAILING = (
    CHECKS
    + """
@pytest.mark.phase("health")
def test_flaky(http):
    assert http.get("/reset").status_code == 200
"""
)


def test_window_skipped_after_a_no_go_has_no_log(pytester: pytest.Pytester, faulty: tuple[str, FaultyService]) -> None:
    """When the checks already say NO-GO the window does not run: ``watch`` is null and the ticket has no table."""
    url, server = faulty
    write_project(pytester, url, checks=FAILING)
    result, summary, ticket = watch_run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["deploysmoke watch window skipped: the checks already say NO-GO"])
    assert summary["verdict"]["decision"] == "NO-GO"
    assert summary["watch"] is None
    assert "### Monitoring" not in ticket
    assert "**Watch window:** watch window skipped: the checks already say NO-GO" in ticket
    assert server.served["/flaky 200"] == server.served["/flaky 503"] == 0  # no probe was sent


@pytest.mark.usefixtures("sigint_reaches_children")
def test_interrupted_window_logs_the_intervals_it_finished(
    pytester: pytest.Pytester, faulty: tuple[str, FaultyService]
) -> None:
    """Ctrl-C during the window: the intervals that ended are in the JSON and the ticket, which say it was interrupted."""
    url, _ = faulty
    write_project(pytester, url)
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--deploy-target=t",
        "--deploy-watch=60s",
        "--deploy-json=summary.json",
        "--deploy-ticket=ticket.md",
    ]
    output: list[str] = []
    with subprocess.Popen(
        argv, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as process:
        try:
            assert process.stdout is not None
            for line in process.stdout:
                output.append(line)
                if "[2/60]" in line:  # two intervals logged: interrupt the third
                    process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:  # stop it by its PID, whatever failed above
                process.kill()
                process.wait(timeout=10)
    assert process.returncode == pytest.ExitCode.INTERRUPTED, "".join(output)
    summary = json.loads((pytester.path / "summary.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(summary)
    assert summary["verdict"]["decision"] == "NO-GO"
    watch = summary["watch"]
    assert (watch["stopped"], watch["planned"], len(watch["intervals"])) == ("interrupted", 60, 2)
    lead, rows = monitoring_section((pytester.path / "ticket.md").read_text(encoding="utf-8"))
    assert lead.startswith("Stopped early after 2 of 60 intervals: interrupted ")
    assert len(rows) == 3


def test_doc_example_writes_the_monitoring_log_the_page_shows(pytester: pytest.Pytester, standin_url: str) -> None:
    """The page's project, run against the stand-in: every /status/503 probe is a '503' error, and the
    ticket's table and the JSON's watch object have the shape the page shows."""
    page = read_page(PAGE)
    for name, body in page.files.items():
        (pytester.path / name).write_text(body, encoding="utf-8")
    result = pytester.runpytest(*page.args, f"--deploy-base-url={standin_url}")
    result.assert_outcomes(**page.expect)
    summary = json.loads((pytester.path / "summary.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(summary)
    intervals = summary["watch"]["intervals"]
    assert len(intervals) == 2
    for interval in intervals:
        failing = interval["probes"]["GET /status/503"]
        assert interval["errors"] == {"503": failing["requests"]} and failing["errors"] == failing["requests"] > 0
        assert interval["probes"]["GET /health"]["errors"] == 0
    # An interval of a second holds too few samples for error_rate: a warning, as the page says.
    assert summary["verdict"]["decision"] == "GO with warnings"
    assert any(w.startswith("error_rate not evaluated: ") for w in summary["verdict"]["warnings"])

    (shown_ticket,) = fenced_blocks(PAGE, "markdown")
    _, shown_rows = monitoring_section(shown_ticket)
    lead, rows = monitoring_section((pytester.path / "ticket.md").read_text(encoding="utf-8"))
    assert lead == shown_ticket.split("\n\n")[1]
    assert rows[0] == shown_rows[0] and len(rows) == len(shown_rows)
    for written, shown, interval in zip(rows[1:], shown_rows[1:], intervals, strict=True):
        failed = interval["errors"]["503"]
        assert written[2] == f"{failed}: 503 x{failed}"
        assert [written[3], *written[6:]] == [shown[3], *shown[6:]] == ["50%", "—", "—", "—"]  # every round: 1 of 2

    (shown_watch,) = fenced_blocks(PAGE, "json")  # the page's watch object is one the schema accepts
    jsonschema.Draft202012Validator(SCHEMA).validate({**summary, "watch": json.loads(shown_watch)})
