"""pytest-html report: title, environment rows, phase and slowest-call columns, call tables, verdict banner."""

from __future__ import annotations

import datetime
import re
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke.config.redaction import redact_url
from pytest_deploysmoke.config.settings import get_redactor
from pytest_deploysmoke.perf.compare import ENDPOINT_VERDICTS
from pytest_deploysmoke.reports.comparison import comparison_table
from pytest_deploysmoke.reports.monitoring import monitoring_table
from pytest_deploysmoke.results import wire
from pytest_deploysmoke.results.records import CallRecord, Measurement
from pytest_deploysmoke.results.summary import failure_line, get_verdict
from pytest_deploysmoke.results.verdict import CheckResult, PhaseResult, RunInfo, Verdict, slowest, trace_note, trace_of

if TYPE_CHECKING:
    from pytest_deploysmoke.config.settings import RunSettings

#: Characters of a failure message shown in a row's details (the full text is in the log below it).
MESSAGE_CHARS = 600
#: Characters of a call (a SQL statement can be long) shown in the "Slowest call" column; all of it on hover.
ACTION_CHARS = 60
PENDING = "(known at the end of the run)"

_DECISION_CLASS = {"GO": "go", "GO with warnings": "warn", "NO-GO": "nogo", "ROLLBACK": "rollback"}
_PHASE_MARK = {"passed": "\u2713", "failed": "\u2717", "skipped": "\u2013", "not run": "\u2013"}

# pytest-html 4 has no hook for its page layout, and its own CSS only comes from --css (the
# user's option).  This block travels inside the banner, so --self-contained-html keeps it.
# It puts the summary (with the verdict) right under the title and the environment table
# after the results, and colours what our cells and details contain.
_STYLE = """
body { display: flex; flex-direction: column; }
#environment-header, #environment { order: 1; }
footer { order: 2; }
.deploysmoke-verdict { margin: 4px 0 14px; padding: 12px 16px; border-left: 12px solid; border-radius: 4px;
  color: #111; font-size: 14px; line-height: 1.45; }
.deploysmoke-verdict--go { background: #e7f5e9; border-color: #2e7d32; }
.deploysmoke-verdict--warn { background: #fff6dd; border-color: #e0a100; }
.deploysmoke-verdict--nogo { background: #fdeaea; border-color: #c62828; }
.deploysmoke-verdict--rollback { background: #f3e5f5; border-color: #6a1b9a; }
.deploysmoke-verdict__decision { font-size: 30px; font-weight: bold; letter-spacing: 0.5px; }
.deploysmoke-verdict--go .deploysmoke-verdict__decision { color: #1b5e20; }
.deploysmoke-verdict--warn .deploysmoke-verdict__decision { color: #8a5a00; }
.deploysmoke-verdict--nogo .deploysmoke-verdict__decision { color: #b71c1c; }
.deploysmoke-verdict--rollback .deploysmoke-verdict__decision { color: #4a148c; }
.deploysmoke-verdict__facts { color: #333; margin: 2px 0 8px; }
.deploysmoke-verdict ul { margin: 6px 0 2px; padding-left: 22px; }
.deploysmoke-verdict li { margin: 2px 0; }
.deploysmoke-phases { margin: 8px 0 2px; }
.deploysmoke-phase { display: inline-block; margin: 0 6px 4px 0; padding: 2px 9px; border-radius: 10px;
  font-size: 12px; color: #333; background: #eee; border: 1px solid #ccc; }
.deploysmoke-phase--passed { background: #d7efd9; border-color: #81c784; color: #1b5e20; }
.deploysmoke-phase--failed { background: #f8d4d4; border-color: #e57373; color: #b71c1c; font-weight: bold; }
.deploysmoke-phase--skipped, .deploysmoke-phase--not-run { color: #777; }
.deploysmoke-manual { margin: 8px 0 2px; }
.deploysmoke-manual__phase { margin: 4px 0 0; font-size: 12px; color: #555; }
.deploysmoke-manual ul { list-style: none; padding-left: 8px; margin: 2px 0; }
.deploysmoke-manual--confirmed { color: #1b5e20; }
.deploysmoke-manual--blocking { color: #b71c1c; font-weight: bold; }
#results-table td.col-phase, #results-table td.col-slowest { color: #333; }
.deploysmoke-details { color: #222; margin: 4px 0 10px; }
.deploysmoke-details h4 { margin: 6px 0 4px; font-size: 12px; }
.deploysmoke-details table { border-collapse: collapse; margin-bottom: 6px; }
.deploysmoke-details th, .deploysmoke-details td { border: 1px solid #ddd; padding: 3px 8px; text-align: left;
  font-family: "Courier New", Courier, monospace; font-size: 12px; vertical-align: top; }
.deploysmoke-details th { font-family: inherit; background: #f4f4f4; }
.deploysmoke-details td.num { text-align: right; }
.deploysmoke-details tr.deploysmoke-bad td { background: #fdeaea; color: #b71c1c; }
.deploysmoke-details .deploysmoke-over { color: #b71c1c; font-weight: bold; }
.deploysmoke-failure { border-left: 4px solid #c62828; background: #fdeaea; padding: 4px 10px; }
.deploysmoke-failure dt { font-weight: bold; }
.deploysmoke-failure dd { margin: 0 0 4px 12px; font-family: "Courier New", Courier, monospace;
  white-space: pre-wrap; word-break: break-word; }
"""

#: Latency charts drawn at most, for the endpoints with the most calls (the section names the others).
CHARTED_ENDPOINTS = 12
# The charts come after the results (a failed check must show without scrolling) and before the
# environment.  pytest-html has no hook below its table, so the section leaves the summary's box
# (display: contents) and takes its place in the page's column (body is a flex column).
_CHARTS_STYLE = """
body { display: flex; flex-direction: column; }
body > .summary, .summary > .additional-summary.postfix { display: contents; }
.summary > .summary__data { flex: none; }
#deploysmoke-charts { order: 1; margin: 6px 0 14px; }
#environment-header, #environment { order: 2; }
footer { order: 3; }
#deploysmoke-charts h3 { margin: 10px 0 4px; font-size: 14px; }
.deploysmoke-charts__note { color: #444; margin: 2px 0 8px; font-size: 12px; }
.deploysmoke-charts__grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 10px; }
.deploysmoke-charts__grid--wide { grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); }
.deploysmoke-chart { margin: 0; padding: 4px; border: 1px solid #e2e2e2; border-radius: 4px; background: #fff; }
.deploysmoke-chart svg { display: block; width: 100%; height: auto; }
"""


class HtmlReport:
    """pytest-html's hooks for one run, registered on the controller when pytest-html writes a report.

    Every hook of pytest-html is optional here, so the class may be registered without it.
    """

    def __init__(self, config: pytest.Config, settings: RunSettings) -> None:
        self._config = config
        self._settings = settings
        self._redact: Callable[[str], str] = get_redactor(config).redact
        self._calls: dict[str, tuple[CallRecord, ...]] = {}  # nodeid -> the calls on its teardown report
        self._measurements: dict[str, tuple[Measurement, ...]] = {}  # nodeid -> what it measured
        self._failures: dict[str, list[tuple[str, str]]] = {}  # nodeid -> (setup/call/teardown, one-line message)

    # -- environment table -----------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # pytest-html reads pytest-metadata's dict in its trylast sessionstart, keeps that very
        # dict and serializes it only when it writes the file, in its trylast sessionfinish.
        # So the rows known now go in here, first in the table; the rest are filled in by
        # pytest_html_results_summary, which that same sessionfinish calls just before writing.
        target = self._settings.target
        early = RunInfo(
            target=target.name,
            base_url=redact_url(target.base_url),
            production=target.production,
            expected_version=target.version,
            host=socket.gethostname(),
        )
        rows = environment_rows(early)
        for name in ("Reported version", "Version source", "Started (UTC)", "Duration", "Git commit"):
            rows[name] = PENDING
        self._put_rows(rows)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        target = self._settings.target
        report.title = self._redact(" ".join(part for part in ("Smoke:", target.name, target.version) if part))

    # -- results table ---------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(1, '<th class="sortable" data-column-type="phase">Phase</th>')
        cells.insert(4, "<th>Slowest call</th>")

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: pytest.TestReport | pytest.CollectReport, cells: list[str]) -> None:
        phase = wire.phase_of(report) or ""
        measured = self._measurements.get(report.nodeid)
        if measured:  # a distribution: its figures in place of its slowest single call
            shown = "<br>".join(escape(self._redact(measurement.describe())) for measurement in measured)
            cell = f'<span class="deploysmoke-measured">{shown}</span>'
        else:
            cell = self._slowest_cell(slowest(self._calls.get(report.nodeid, ())))
        cells.insert(1, f'<td class="col-phase">{escape(self._redact(phase))}</td>')
        cells.insert(4, f'<td class="col-slowest">{cell}</td>')

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Runs before pytest-html's trylast implementation, which builds the row of a test once
        # its teardown report arrives, from all three reports and the extras of each: so the
        # calls (on the teardown report only) are known when the row hook asks, and details
        # put on the teardown report show in the test's row.
        nodeid = report.nodeid
        if str(report.outcome) == "rerun":  # pytest-rerunfailures' outcome; its attempt has its own row
            return
        if report.failed:
            self._failures.setdefault(nodeid, []).append((report.when, self._redact(failure_line(report))))
        if report.when != "teardown":
            return
        facts = wire.read(report)
        calls = self._calls[nodeid] = facts.calls or ()
        measured = self._measurements[nodeid] = facts.measurements or ()
        failures = self._failures.pop(nodeid, [])
        if calls or failures or measured:
            from pytest_html import extras  # type: ignore[import-untyped]  # pytest-html ships no type information

            trace_id = trace_of(calls) if failures else ""
            trace = (trace_id, self._redact(self._settings.target.trace_link(trace_id)))
            content = render_details(calls, failures, self._redact, measured, trace)
            report.extras = [*getattr(report, "extras", []), extras.html(content)]  # type: ignore[attr-defined]  # pytest-html's attribute

    def _slowest_cell(self, call: CallRecord | None) -> str:
        if call is None:
            return ""
        action = self._redact(call.action)
        shown = action if len(action) <= ACTION_CHARS else action[: ACTION_CHARS - 3] + "..."
        css = "deploysmoke-over" if call.over_limit else "deploysmoke-call"
        return f'<span class="{css}" title="{escape(action)}">{escape(shown)} {call.ms:.0f} ms</span>'

    # -- summary: the verdict banner ----------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix: list[str]) -> None:
        verdict = get_verdict(self._config)
        if verdict is None:  # the run ended before RunSummary decided (an internal error)
            return
        rows = environment_rows(verdict.run)
        rows.update((self._redact(name), escape(self._redact(value))) for name, value in verdict.run.extra)
        self._put_rows(self._blacked_out(rows))
        prefix.insert(0, f"<style>{_STYLE}</style>{render_banner(verdict, self._redact)}")
        if verdict.watch_log is not None:
            prefix.insert(1, render_monitoring(verdict, self._redact))
        if verdict.comparison is not None:
            prefix.insert(2 if verdict.watch_log is not None else 1, render_comparison(verdict, self._redact))

    # -- charts: each endpoint's latency, the watch window ------------------------------------

    # A second implementation of the summary hook, under a name of its own (pluggy's specname),
    # keeps the charts apart from the banner (the postfix; _CHARTS_STYLE shows them below the results).
    @pytest.hookimpl(optionalhook=True, specname="pytest_html_results_summary")
    def pytest_html_results_summary_charts(self, postfix: list[str]) -> None:
        verdict = get_verdict(self._config)
        if verdict is not None:
            postfix.append(render_charts(verdict, self._redact))

    def _blacked_out(self, rows: dict[str, str]) -> dict[str, str]:
        """Apply pytest-html's ``environment_table_redact_list`` to rows it has not seen at sessionstart."""
        patterns = self._config.getini("environment_table_redact_list")
        return {
            name: "\u2593" * len(value) if any(re.match(pattern, name) for pattern in patterns) else value
            for name, value in rows.items()
        }

    def _put_rows(self, rows: Mapping[str, str]) -> None:
        """Put *rows* first in pytest-metadata's dict, the one pytest-html shows as its environment."""
        try:
            from pytest_metadata.plugin import metadata_key  # type: ignore[import-untyped]  # untyped, like pytest-html
        except ImportError:  # pytest-metadata < 3 (pytest-html 4.1 still accepts it): no environment rows
            return
        metadata = self._config.stash.get(metadata_key, None)
        if metadata is None:
            return
        # pytest-html keeps a reference to this very dict: reorder it in place, never replace it
        others = {key: value for key, value in metadata.items() if key not in rows}
        metadata.clear()
        metadata.update(rows)
        metadata.update(others)


def environment_rows(run: RunInfo) -> dict[str, str]:
    """The environment table's rows for *run*, as HTML (pytest-html inserts the values as markup)."""
    started = ""
    if run.started:
        started = datetime.datetime.fromtimestamp(run.started, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    values = {
        "Target": run.target,
        "Base URL": run.base_url,
        "Production": "yes" if run.production else "no",
        "Expected version": run.expected_version or "(not set)",
        "Reported version": run.reported_version or "(not reported)",
        "Version source": run.version_source or "(none)",
        "Started (UTC)": started,
        "Duration": f"{run.duration:.1f} s" if run.finished else "",
        "Runner host": run.host,
        "Git commit": run.commit or "(not a git checkout)",
    }
    return {name: escape(value) for name, value in values.items()}


def render_charts(verdict: Verdict, redact: Callable[[str], str]) -> str:
    """The "Charts" section: each endpoint's latency distribution, then the watch window over time.

    The endpoints with the most calls are drawn, at most :data:`CHARTED_ENDPOINTS`; the section
    names the others.  The charts are inline SVG: the page needs no script and no file for them.
    """
    from pytest_deploysmoke.reports import charts

    endpoints = charts.endpoint_latencies(call for check in verdict.checks for call in check.calls)
    drawn, left_out = endpoints[:CHARTED_ENDPOINTS], endpoints[CHARTED_ENDPOINTS:]
    parts = [f'<section id="deploysmoke-charts" aria-label="charts"><style>{_CHARTS_STYLE}</style><h2>Charts</h2>']
    parts.append("<h3>Latency per endpoint</h3>")
    if drawn:
        parts.append(
            '<p class="deploysmoke-charts__note">The time of each HTTP request and WebSocket step the checks'
            " made (warm-up requests left out), in buckets on a log scale; a dotted line marks the median (p50),"
            " a dashed one p95, and solid ones the budget's target and limit when its calls had one.</p>"
        )
        figures = [
            (
                f'class="deploysmoke-chart" data-endpoint="{escape(redact(endpoint.endpoint))}"',
                charts.latency_chart(endpoint, redact=redact),
            )
            for endpoint in drawn
        ]
        parts.append(_chart_grid(figures))
        if left_out:
            others = ", ".join(f"{redact(endpoint.endpoint)} ({endpoint.calls})" for endpoint in left_out)
            parts.append(
                f'<p class="deploysmoke-charts__note">{len(drawn)} of {len(endpoints)} endpoints drawn, those with'
                f" the most calls; not drawn (calls): {escape(others)}</p>"
            )
    else:
        parts.append('<p class="deploysmoke-charts__note">No HTTP request or WebSocket step was recorded.</p>')
    parts += _comparison_charts(verdict, redact)
    log = verdict.watch_log
    if log is not None:
        parts.append("<h3>Watch window</h3>")
        if log.intervals:
            svgs = (charts.watch_p95_chart(log, redact=redact), charts.watch_error_rate_chart(log))
            parts.append(
                _chart_grid((('class="deploysmoke-chart deploysmoke-chart--watch"', svg) for svg in svgs), wide=True)
            )
        else:
            parts.append('<p class="deploysmoke-charts__note">The watch window ended before its first interval.</p>')
    parts.append("</section>")
    return "".join(parts)


def _comparison_charts(verdict: Verdict, redact: Callable[[str], str]) -> list[str]:
    """Each compared endpoint's two distributions, regressions first, at most :data:`CHARTED_ENDPOINTS`."""
    from pytest_deploysmoke.reports import charts

    if verdict.comparison is None:
        return []
    rows = sorted(
        (row for row in verdict.comparison.endpoints if row.n_baseline or row.n_now),
        key=lambda row: ENDPOINT_VERDICTS.index(row.verdict),
    )
    drawn, left_out = rows[:CHARTED_ENDPOINTS], rows[CHARTED_ENDPOINTS:]
    parts = [f"<h3>Baseline and now: {escape(redact(verdict.comparison.baseline))}</h3>"]
    if not drawn:
        parts.append('<p class="deploysmoke-charts__note">No compared endpoint had a latency to draw.</p>')
        return parts
    parts.append(
        '<p class="deploysmoke-charts__note">Each compared endpoint\'s latencies in the baseline (grey) and now,'
        " as the share of requests answered within each time (log scale); dotted lines mark each side's median."
        " A curve to the right of the grey one is slower; red is a regression, green an improvement.</p>"
    )
    figures = []
    for row in drawn:
        attributes = (
            f'class="deploysmoke-chart deploysmoke-chart--comparison" data-endpoint="{escape(redact(row.endpoint))}"'
            f' data-verdict="{escape(row.verdict)}"'
        )
        figures.append((attributes, charts.comparison_chart(row, redact=redact)))
    parts.append(_chart_grid(figures))
    if left_out:
        others = ", ".join(f"{redact(row.endpoint)} ({row.verdict})" for row in left_out)
        parts.append(
            f'<p class="deploysmoke-charts__note">{len(drawn)} of {len(rows)} compared endpoints drawn,'
            f" regressions first; not drawn: {escape(others)}</p>"
        )
    return parts


def _chart_grid(figures: Iterable[tuple[str, str]], *, wide: bool = False) -> str:
    """A grid of charts, each ``(the <figure>'s attributes, its SVG)``; *wide* for the watch window's."""
    css = "deploysmoke-charts__grid" + (" deploysmoke-charts__grid--wide" if wide else "")
    return (
        f'<div class="{css}">'
        + "".join(f"<figure {attributes}>{svg}</figure>" for attributes, svg in figures)
        + "</div>"
    )


def render_banner(verdict: Verdict, redact: Callable[[str], str]) -> str:
    """The verdict banner: the decision, the run in one line, the reasons and warnings, the phases."""
    run = verdict.run
    counts = {
        outcome: sum(1 for c in verdict.checks if c.outcome == outcome) for outcome in ("passed", "failed", "skipped")
    }
    facts = [f"target {run.target}" + (" (production)" if run.production else "")]
    facts.append(run.version_line() or "no version expected or reported")
    facts.append(", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n) or "no checks ran")
    facts.append(f"{run.duration:.1f} s")
    if verdict.ending_note():
        facts.append(verdict.ending_note().strip(" ()"))
    links = _trace_links(verdict.checks)
    items = [f"<li><b>ROLLBACK:</b> {_linked(escape(redact(reason)), links)}</li>" for reason in verdict.rollback]
    items += [f"<li><b>Watch:</b> {escape(redact(verdict.watch))}</li>"] if verdict.watch else []
    items += [f"<li><b>NO-GO:</b> {_linked(escape(redact(reason)), links)}</li>" for reason in verdict.reasons]
    items += [f"<li><b>Warning:</b> {escape(redact(warning))}</li>" for warning in verdict.warnings]
    for check in verdict.production_writes:
        items.append(f"<li><b>Wrote to production:</b> {escape(redact(f'{check.nodeid}: {check.writes_text()}'))}</li>")
    items += [
        f"<li><b>Not run on production (by design):</b> {escape(redact(f'{check.title} ({check.nodeid})'))}</li>"
        for check in verdict.held_back
    ]
    for fixture in verdict.fixture_calls:
        calls = ", ".join(f"{call.action} {call.outcome} {call.ms:.0f} ms" for call in fixture.calls)
        items.append(f"<li><b>Setup and cleanup:</b> {escape(redact(f'{fixture.fixture}: {calls}'))}</li>")
    listing = f"<ul>{''.join(items)}</ul>" if items else ""
    line = escape(redact(" \u00b7 ".join(facts)))
    return (
        f'<section id="deploysmoke-verdict" role="status" aria-label="deploy verdict"'
        f' class="deploysmoke-verdict deploysmoke-verdict--{_DECISION_CLASS[verdict.decision]}">'
        f'<div class="deploysmoke-verdict__decision">{escape(verdict.decision)}</div>'
        f'<div class="deploysmoke-verdict__facts">{line}</div>'
        f"{listing}{_render_phases(verdict.phases)}{render_manual(verdict, redact)}</section>"
    )


def render_manual(verdict: Verdict, redact: Callable[[str], str]) -> str:
    """The manual checklist items under the phases, phase by phase: open boxes to do by hand, or confirmed ones."""
    if not verdict.manual:
        return ""
    phases: dict[str, list[str]] = {phase.name: [] for phase in verdict.phases}
    for result in verdict.manual:
        item, confirmation = result.item, result.confirmation
        owner = f"owner: {item.owner}" if item.owner else ""
        if confirmation is None:
            detail = "; ".join(part for part in ("required" if item.required else "optional", owner) if part)
            css, box = "open" + (" deploysmoke-manual--blocking" if item.required else ""), "\u2610"
            said = f"to do by hand ({detail}); confirm with --deploy-confirm {item.id}"
        else:
            at = datetime.datetime.fromtimestamp(confirmation.at, tz=datetime.timezone.utc)
            note = f": {confirmation.note}" if confirmation.note else ""
            css, box = "confirmed", "\u2611"
            said = f"confirmed by {confirmation.by} at {at:%Y-%m-%d %H:%M:%S} UTC{note}" + (
                f" ({owner})" if owner else ""
            )
        phases.setdefault(item.phase, []).append(
            f'<li class="deploysmoke-manual--{css}" data-manual-id="{escape(item.id)}">{box} '
            f"<b>{escape(redact(item.text))}</b> \u2014 {escape(redact(said))}</li>"
        )
    listed = "".join(
        f'<div class="deploysmoke-manual__phase">{escape(phase)}</div><ul>{"".join(items)}</ul>'
        for phase, items in phases.items()
        if items
    )
    return f'<div class="deploysmoke-manual" id="deploysmoke-manual"><b>By hand:</b>{listed}</div>'


# A section of figures (the monitoring table) carries its own style, as the banner does.
_FIGURES_STYLE = """
.deploysmoke-figures { margin: 0 0 14px; color: #222; font-size: 13px; }
.deploysmoke-figures h2 { font-size: 16px; margin: 0 0 4px; }
.deploysmoke-figures p { margin: 2px 0 6px; }
.deploysmoke-figures table { border-collapse: collapse; }
.deploysmoke-figures th, .deploysmoke-figures td { border: 1px solid #ddd; padding: 3px 8px; text-align: left;
  vertical-align: top; }
.deploysmoke-figures th { background: #f4f4f4; }
.deploysmoke-figures td { font-family: "Courier New", Courier, monospace; font-size: 12px; }
.deploysmoke-figures td.num { text-align: right; }
.deploysmoke-figures tr.deploysmoke-regression td { background: #fdeaea; color: #b71c1c; }
.deploysmoke-figures tr.deploysmoke-improvement td { background: #e7f5e9; color: #1b5e20; }
.deploysmoke-figures tr.deploysmoke-not-evaluated td { color: #777; }
"""


def render_monitoring(verdict: Verdict, redact: Callable[[str], str]) -> str:
    """The watch window's monitoring table, one row per interval, and how the window ended ("" without a window)."""
    if verdict.watch_log is None:
        return ""
    table = monitoring_table(verdict.watch_log)
    return _figures_section(
        "monitoring", "Monitoring", (table.ended,), table.header, table.rows, table.numeric, redact=redact
    )


def render_comparison(verdict: Verdict, redact: Callable[[str], str]) -> str:
    """The run against its baseline: how it was judged, one row per endpoint coloured by its verdict ("" without)."""
    if verdict.comparison is None:
        return ""
    table = comparison_table(verdict.comparison)
    return _figures_section(
        "comparison",
        "Comparison with the baseline",
        (table.lead,),
        table.header,
        table.rows,
        table.numeric,
        redact=redact,
        row_classes=[f"deploysmoke-{judged.replace(' ', '-')}" for judged in table.verdicts],
        notes=table.notes,
    )


def _figures_section(
    name: str,
    title: str,
    lead: Sequence[str],
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: Sequence[int],
    *,
    redact: Callable[[str], str],
    row_classes: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> str:
    """A ``<section id="deploysmoke-NAME">`` with its *title*, paragraphs, the table (when it has rows) and *notes*.

    *row_classes* gives each row a class (``""`` for none); every text is redacted and escaped.
    """
    parts = [
        f"<style>{_FIGURES_STYLE}</style>",
        f'<section id="deploysmoke-{name}" class="deploysmoke-{name} deploysmoke-figures"'
        f' aria-label="{escape(title.lower())}">',
        f"<h2>{escape(title)}</h2>",
        *(f"<p>{escape(redact(text))}</p>" for text in lead),
    ]
    if rows:
        parts.append("<table><tr>" + "".join(f"<th>{escape(redact(cell))}</th>" for cell in header) + "</tr>")
        for index, row in enumerate(rows):
            css = row_classes[index] if index < len(row_classes) else ""
            cells = "".join(
                f"<td{' class=num' if column in numeric else ''}>{escape(redact(cell))}</td>"
                for column, cell in enumerate(row)
            )
            parts.append(f'<tr class="{css}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
        parts.append("</table>")
    parts += [f"<p>{escape(redact(text))}</p>" for text in notes]
    parts.append("</section>")
    return "".join(parts)


def trace_anchor(trace_id: str, url: str) -> str:
    """A link to trace *trace_id* at *url* (escaped, and only an http(s) URL), or the id as text without one."""
    if not url.startswith(("https://", "http://")):
        return escape(trace_id)
    return f'<a class="deploysmoke-trace" href="{escape(url, quote=True)}">{escape(trace_id)}</a>'


def _trace_links(checks: Sequence[CheckResult]) -> dict[str, str]:
    """The trace note that ends each failed check's message, and the same note with the trace id as a link."""
    return {
        escape(trace_note(check.trace_id)): f"(trace {trace_anchor(check.trace_id, check.trace_url)})"
        for check in checks
        if check.outcome == "failed" and check.trace_id and check.trace_url
    }


def _linked(shown: str, links: Mapping[str, str]) -> str:
    """*shown* (escaped HTML) with the trace note it ends with turned into a link, when it has one."""
    for note, link in links.items():
        if shown.endswith(note):
            return shown[: -len(note)] + link
    return shown


def _render_phases(results: Sequence[PhaseResult]) -> str:
    chips = []
    for phase in results:
        label = f"{_PHASE_MARK[phase.outcome]} {phase.name}" + (" (gate)" if phase.gate else "")
        title = f"{phase.outcome}: {phase.passed} passed, {phase.failed} failed, {phase.skipped} skipped"
        css = phase.outcome.replace(" ", "-")
        chips.append(
            f'<span class="deploysmoke-phase deploysmoke-phase--{css}" title="{escape(title)}">{escape(label)}</span>'
        )
    return f'<div class="deploysmoke-phases">{"".join(chips)}</div>' if chips else ""


def render_details(
    calls: Sequence[CallRecord],
    failures: Sequence[tuple[str, str]],
    redact: Callable[[str], str],
    measurements: Sequence[Measurement] = (),
    trace: tuple[str, str] = ("", ""),
) -> str:
    """A test's details: what failed (request, response, message, its trace), what it measured, then the table
    of its calls.  *trace* is the failed check's trace id and where the target's tracing UI shows it ("")."""
    parts = ['<div class="deploysmoke-details">']
    failed_call = next((call for call in reversed(calls) if not call.ok), None)
    for when, message in failures:
        shown = message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS] + " ..."
        rows = []
        if failed_call is not None:
            rows.append(("Request", failed_call.action))
            rows.append(("Response", failed_call.outcome))
        rows.append((f"Failure ({when})", shown or "(no message)"))
        listed = "".join(f"<dt>{escape(name)}</dt><dd>{escape(redact(value))}</dd>" for name, value in rows)
        if trace[0]:
            listed += f"<dt>Trace</dt><dd>{trace_anchor(*trace)}</dd>"
        parts.append(f'<dl class="deploysmoke-failure">{listed}</dl>')
    if measurements:
        parts.append(f"<h4>Measured ({len(measurements)})</h4>")
        parts.append(
            "<table><tr><th>Measured</th><th>n</th><th>Errors</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th>"
            "<th>Budget</th></tr>"
        )
        for measurement in measurements:
            cells = "".join(
                f"<td class=num>{'n/a' if ms is None else f'{ms:.1f}'}</td>"
                for ms in (measurement.p50_ms, measurement.p95_ms, measurement.p99_ms)
            )
            held = ", ".join(note for note in (measurement.budget, measurement.not_evaluated) if note)
            parts.append(
                f"<tr><td>{escape(redact(measurement.action))}</td><td class=num>{measurement.n}</td>"
                f"<td class=num>{measurement.errors}</td>{cells}<td>{escape(held)}</td></tr>"
            )
        parts.append("</table>")
    if calls:
        parts.append(f"<h4>Calls ({len(calls)})</h4>")
        parts.append("<table><tr><th>#</th><th>Call</th><th>Result</th><th>ms</th><th>Budget</th></tr>")
        for index, call in enumerate(calls, 1):
            result = call.outcome + (f" (attempt {call.attempt})" if call.attempt > 1 else "")
            result += " (warm-up)" if call.warmup else ""
            ms_cell = f'<span class="deploysmoke-over">{call.ms:.0f}</span>' if call.over_limit else f"{call.ms:.0f}"
            bad = "" if call.ok else ' class="deploysmoke-bad"'
            budget = "" if call.budget_ms is None else f"{call.budget_ms:.0f}"
            parts.append(
                f"<tr{bad}><td class=num>{index}</td><td>{escape(redact(call.action))}</td>"
                f"<td>{escape(redact(result))}</td><td class=num>{ms_cell}</td><td class=num>{budget}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</div>")
    return "".join(parts)
