"""The monitoring table: the watch window's intervals as the ticket and the HTML report show them (no pytest).

One row per interval, like the checklists' 15-minute lines (``[14:30] CPU: 12%, Memory: 45MB,
API Response: 45ms, Errors: 0``): time, requests, errors by kind, error rate, p50 / p95 per probe,
WebSocket failures, CPU and memory.  The cells are plain text; each writer escapes them its way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pytest_deploysmoke.perf.budgets import format_ms
from pytest_deploysmoke.perf.rollback import percent
from pytest_deploysmoke.results.watch_log import WatchInterval, WatchLog, format_duration, kinds_text

#: What a cell shows for a figure that is not known (no answer, no ``metrics_url``).
UNKNOWN = "—"
#: Intervals shorter than this show seconds in their time: rows a minute apart are told apart by HH:MM.
MINUTE = 60.0


@dataclass(frozen=True, slots=True)
class MonitoringTable:
    """The table's header and rows (plain text), and one sentence on how the window ended."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    ended: str
    #: The columns holding figures (right-aligned), by index.
    numeric: tuple[int, ...]


def monitoring_table(log: WatchLog) -> MonitoringTable:
    """The monitoring table of *log*: one row per interval that ran to its end."""
    probes = log.probe_names()
    header = (
        "Time (UTC)",
        "Requests",
        "Errors",
        "Error rate",
        *(f"{probe} p50 / p95" for probe in probes),
        "WebSocket failures",
        "CPU",
        "Memory",
    )
    with_seconds = log.every < MINUTE
    rows = tuple(_row(interval, probes, with_seconds) for interval in log.intervals)
    numeric = (1, 3, *range(4, 4 + len(probes)), len(header) - 2, len(header) - 1)
    return MonitoringTable(header, rows, ended(log), numeric)


def ended(log: WatchLog) -> str:
    """How the window ended, in one sentence, with the error-rate threshold it was judged on."""
    done, planned = len(log.intervals), log.planned
    plan = f"{format_duration(log.duration)} window, an interval every {format_duration(log.every)}"
    if log.stopped == "rollback":
        how = f"Stopped early after {done} of {planned} intervals: a rollback rule tripped"
    elif log.stopped == "interrupted":
        how = f"Stopped early after {done} of {planned} intervals: interrupted"
    else:
        how = f"Ran to its end: {done} of {planned} intervals"
    threshold = (
        f"; rollback at an error rate of {percent(log.max_error_rate)}" if log.max_error_rate is not None else ""
    )
    return f"{how} ({plan}){threshold}."


def _row(interval: WatchInterval, probes: list[str], with_seconds: bool) -> tuple[str, ...]:
    moment = datetime.fromtimestamp(interval.start, tz=timezone.utc)
    errors = str(interval.error_count)
    if interval.errors:
        errors += f": {kinds_text(interval.errors)}"
    rate = interval.error_rate
    by_probe = {figures.probe: figures for figures in interval.probes}
    spreads = []
    for name in probes:
        figures = by_probe.get(name)
        if figures is None or figures.p50_ms is None or figures.p95_ms is None:
            spreads.append(UNKNOWN)
            continue
        spread = f"{format_ms(figures.p50_ms / 1000)} / {format_ms(figures.p95_ms / 1000)}"
        spreads.append(spread + (f", {figures.errors} failed" if figures.errors else ""))
    ws = UNKNOWN
    if interval.ws_connects:
        ws = f"{interval.ws_failures}/{interval.ws_connects}"
        if interval.ws_errors:
            ws += f": {kinds_text(interval.ws_errors)}"
    return (
        moment.strftime("%H:%M:%S" if with_seconds else "%H:%M"),
        str(interval.requests),
        errors,
        UNKNOWN if rate is None else percent(rate),
        *spreads,
        ws,
        UNKNOWN if interval.cpu is None else f"{interval.cpu:.0%}",
        UNKNOWN if interval.memory_bytes is None else f"{interval.memory_bytes / 2**20:.1f} MiB",
    )
