"""Release-ticket Markdown: the run's Verdict as a checklist to paste into a ticket (no pytest).

The output is plain GitHub/GitLab-flavoured Markdown (headings, task lists, tables, no HTML).
Every piece of text from the run is escaped only where Markdown would misread it, so the raw
text stays readable for trackers that do not render Markdown.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from urllib.parse import quote

from pytest_deploysmoke.perf.budgets import format_ms
from pytest_deploysmoke.reports.comparison import comparison_table
from pytest_deploysmoke.reports.monitoring import monitoring_table
from pytest_deploysmoke.results.manual import ManualResult
from pytest_deploysmoke.results.records import CallRecord
from pytest_deploysmoke.results.verdict import (
    CheckResult,
    FixtureCalls,
    PhaseOutcome,
    PhaseResult,
    RunInfo,
    Verdict,
    trace_note,
)

#: How many calls the response-time table shows, slowest first.
SLOWEST_CALLS = 10
#: Longer messages are cut here: the ticket gives the one line, the JSON and HTML reports the rest.
MESSAGE_LIMIT = 300
#: Calls and titles are cut here where they share a line or a table row with other things.
SHORT_LIMIT = 72

_SYMBOLS = {"GO": "✅", "GO with warnings": "⚠️", "NO-GO": "❌", "ROLLBACK": "⏪"}
_PHASE_WORDS = {"passed": "passed", "failed": "FAILED", "skipped": "skipped", "not run": "not run"}
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
# What at the start of a list item's text would open a heading, quote, list or rule.
_BLOCK_START = re.compile(r"^(?:#{1,6}(?=\s|$)|[>+*-]|\d{1,9}(?=[.)](?:\s|$)))")


def render_ticket(verdict: Verdict) -> str:
    """Render *verdict* as the release-ticket checklist (Markdown, ending with a newline)."""
    blocks = [
        _heading(verdict),
        *_findings(verdict),
        *_checklist(verdict),
        *_monitoring(verdict),
        *_comparison(verdict),
        *_setup_and_cleanup(verdict.fixture_calls),
        *_response_times(verdict.checks, verdict.fixture_calls),
        *_environment(verdict.run),
    ]
    return "\n\n".join(blocks) + "\n"


# -- sections -----------------------------------------------------------------------------


def _heading(verdict: Verdict) -> str:
    run = verdict.run
    about = [_text(run.target) + (" (production)" if run.production else "")]
    if run.expected_version:
        reported = f" (reported {_text(run.reported_version)})" if run.reported_version else ""
        about.append(f"version {_text(run.expected_version)}{reported}")
    elif run.reported_version:
        about.append(f"reported version {_text(run.reported_version)}")
    if run.started:
        about.append(_utc(run.started))
    counts = _counts(
        sum(c.outcome == "passed" for c in verdict.checks),
        sum(c.outcome == "failed" for c in verdict.checks),
        sum(c.outcome == "skipped" for c in verdict.checks),
        always_passed=True,
    )
    took = f" in {_duration(run.duration)}" if run.started and run.finished else ""
    note = f" {_text(verdict.ending_note().strip())}" if verdict.ending_note() else ""
    return (
        f"## {_SYMBOLS[verdict.decision]} {verdict.decision}{note}: {', '.join(about)}\n\n"
        f"**{verdict.decision}**: {counts}{took}."
    )


def _findings(verdict: Verdict) -> list[str]:
    blocks = []
    notes = _trace_notes(verdict.checks)
    if verdict.rollback:
        blocks.append("**Why ROLLBACK:**\n\n" + "\n".join(f"- {_traced_text(r, notes)}" for r in verdict.rollback))
    if verdict.watch:
        blocks.append(f"**Watch window:** {_text(verdict.watch)}")
    if verdict.reasons:
        why = "Failed checks" if verdict.decision == "ROLLBACK" else "Why NO-GO"
        blocks.append(f"**{why}:**\n\n" + "\n".join(f"- {_traced_text(r, notes)}" for r in verdict.reasons))
    if verdict.warnings:
        blocks.append("**Warnings:**\n\n" + "\n".join(f"- {_text(w)}" for w in verdict.warnings))
    if verdict.production_writes:
        lines = []
        for check in verdict.production_writes:
            writes = ", ".join(_call_name(call) for call in check.write_calls) or "no write call recorded"
            lines.append(f"- {_text(check.title)} ({_code(check.nodeid, SHORT_LIMIT)}): {writes}")
        blocks.append(f"**Wrote to production ({_text(verdict.run.target)}):**\n\n" + "\n".join(lines))
    if verdict.held_back:
        lines = [f"- {_text(check.title)} ({_code(check.nodeid, SHORT_LIMIT)})" for check in verdict.held_back]
        blocks.append("**Not run on production (by design):**\n\n" + "\n".join(lines))
    return blocks


def _checklist(verdict: Verdict) -> list[str]:
    phases = list(verdict.phases)
    known = {phase.name for phase in phases}
    for check in verdict.checks:  # never hide a check whose phase the config does not list
        if check.phase not in known:
            known.add(check.phase)
            phases.append(_phase_of(check.phase, verdict.checks_of(check.phase)))
    blocks, empty = [], []
    for phase in phases:
        checks = verdict.checks_of(phase.name)
        by_hand = [result for result in verdict.manual if result.item.phase == phase.name]
        if checks or by_hand:  # a phase with only manual items still gets its section
            blocks.append("\n".join([_phase_section(phase, checks, verdict.run), *_manual_items(by_hand)]))
        else:
            empty.append(_text(phase.name) + (" (gate)" if phase.gate else ""))
    if empty:
        blocks.append(f"No checks in this run: {', '.join(empty)}.")
    return blocks


def _phase_section(phase: PhaseResult, checks: Sequence[CheckResult], run: RunInfo) -> str:
    gate = " (gate)" if phase.gate else ""
    mixed = sum(1 for n in (phase.passed, phase.failed, phase.skipped) if n) > 1
    counts = f" ({_counts(phase.passed, phase.failed, phase.skipped)})" if mixed else ""
    lines = [f"### {_text(phase.name)}{gate}: {_PHASE_WORDS[phase.outcome]}{counts}", ""]
    reasons = {check.message for check in checks}
    shared = (
        len(checks) > 1
        and all(check.outcome == "skipped" and not check.guard_blocked for check in checks)
        and len(reasons) == 1
    )
    if shared:  # say a gate's skip reason once, not once per check
        reason = reasons.pop()
        lines += ([f"Skipped: {_text(reason)}", ""] if reason else []) + [f"- [ ] {_text(c.title)}" for c in checks]
    else:
        lines += [_item(check, run) for check in checks]
    return "\n".join(lines)


def _item(check: CheckResult, run: RunInfo) -> str:
    shot = f" ([screenshot]({check.screenshot}))" if check.screenshot else ""
    return _item_text(check, run) + shot


def _item_text(check: CheckResult, run: RunInfo) -> str:
    title = _text(check.title)
    if check.outcome == "passed":
        detail = [_check_time(check)]
        if check.reruns:
            detail.append(f"passed only after {check.reruns} rerun{'s' if check.reruns > 1 else ''}")
        elif check.retried_calls:
            detail.append("passed only after retried calls")
        return f"- [x] {title} — {'; '.join(detail)}"
    if check.outcome == "failed":
        text, trace = _split_trace(check.message, _trace_notes((check,)))
        message = f": {_code(text)}" if text.strip() else ""
        return f"- [ ] {title} — **FAILED**{message}{trace}{_measured(check, '; ')}"
    if check.guard_blocked:
        return f"- [ ] {title} — not run: destructive, and target '{_text(run.target)}' is production"
    reason = f": {_text(check.message)}" if check.message.strip() else ""
    return f"- [ ] {title} — skipped{reason}"


def _manual_items(results: Sequence[ManualResult]) -> list[str]:
    """The phase's manual items, after its checks: ``- [ ] text — to do by hand`` or ``- [x] text — confirmed by``."""
    lines = []
    for result in results:
        item, confirmation = result.item, result.confirmation
        owner = f"owner: {_text(item.owner)}" if item.owner else ""
        if confirmation is None:
            need = "**required**" if item.required else "optional"
            detail = "; ".join(part for part in (need, owner) if part)
            how = f"confirm with {_code(f'--deploy-confirm {item.id}')}"
            lines.append(f"- [ ] {_text(item.text)} — to do by hand ({detail}); {how}")
        else:
            note = f": {_text(confirmation.note)}" if confirmation.note else ""
            whose = f" ({owner})" if owner else ""
            lines.append(
                f"- [x] {_text(item.text)} — confirmed by {_text(confirmation.by)} "
                f"at {_utc(confirmation.at)}{note}{whose}"
            )
    return lines


def _check_time(check: CheckResult) -> str:
    took = format_ms(check.duration)
    if check.measurements:  # a distribution: its figures, not its slowest single call
        return took + _measured(check, "; ")
    slowest = check.slowest_call
    if slowest is None:
        return took
    which = "slowest " if len(check.measured_calls) > 1 else ""
    return f"{took}, {which}{_call_name(slowest)} {_ms(slowest)}{_budget_note(slowest)}"


def _measured(check: CheckResult, lead: str) -> str:
    """``; GET /x: n 20, 0 errors, p50 12 ms, p95 30 ms, p99 33 ms (p95 budget 500 ms)`` per measurement."""
    return "".join(lead + _text(measurement.describe()) for measurement in check.measurements)


def _monitoring(verdict: Verdict) -> list[str]:
    """The watch window's table, one row per interval, and how the window ended; nothing when none ran."""
    if verdict.watch_log is None:
        return []
    table = monitoring_table(verdict.watch_log)
    section = f"### Monitoring\n\n{_text(table.ended)}"
    if table.rows:
        header = [_text(cell) for cell in table.header]
        rows = [[_text(cell) for cell in row] for row in table.rows]
        section += "\n\n" + _table(header, rows, right=table.numeric)
    return [section]


def _comparison(verdict: Verdict) -> list[str]:
    """The run against its baseline: how it was judged, a row per endpoint, what was not compared ([] without one)."""
    if verdict.comparison is None:
        return []
    table = comparison_table(verdict.comparison)
    section = f"### Comparison with the baseline\n\n{_text(table.lead)}"
    if table.rows:
        rows = []
        for row, judged in zip(table.rows, table.verdicts, strict=True):
            endpoint, *figures, said, note = row
            shown = f"**{_text(said)}**" if judged == "regression" else _text(said)
            rows.append([_code(endpoint, SHORT_LIMIT), *(_text(cell) for cell in figures), shown, _text(note)])
        section += "\n\n" + _table([_text(cell) for cell in table.header], rows, right=table.numeric)
    if table.notes:
        section += "\n\n" + " ".join(_text(note) for note in table.notes)
    return [section]


def _setup_and_cleanup(fixtures: Sequence[FixtureCalls]) -> list[str]:
    if not fixtures:
        return []
    lead = "Calls made by fixtures that several checks share (logins, throwaway users); they count for no check."
    lines = ["### Setup and cleanup", "", lead, ""]
    for fixture in fixtures:
        calls = ", ".join(f"{_call_name(call)} {_status(call)} {_ms(call)}" for call in fixture.calls)
        lines.append(f"- {_code(fixture.fixture)}: {calls}")
    return ["\n".join(lines)]


def _response_times(checks: Sequence[CheckResult], fixtures: Sequence[FixtureCalls] = ()) -> list[str]:
    calls = [
        (call, _text(check.title, SHORT_LIMIT)) for check in checks for call in check.measured_calls
    ]  # warm-ups are not response times
    calls += [(call, f"setup and cleanup: {_code(f.fixture)}") for f in fixtures for call in f.calls]
    if not calls:
        return []
    calls.sort(key=lambda pair: -pair[0].ms)
    shown = calls[:SLOWEST_CALLS]
    lead = (
        f"The {len(shown)} slowest of {len(calls)} calls." if len(calls) > len(shown) else "Every call, slowest first."
    )
    rows = [[_call_name(call), _status(call), _ms(call), _budget_cell(call), owner] for call, owner in shown]
    table = _table(["Call", "Status", "Time", "Budget", "Check"], rows, right=(2, 3))
    return [f"### Response times\n\n{lead}\n\n{table}"]


def _environment(run: RunInfo) -> list[str]:
    rows = [
        ["Target", _text(run.target)],
        ["Base URL", _code(run.base_url) if run.base_url else "not set"],
        ["Production", "yes" if run.production else "no"],
        ["Expected version", _text(run.expected_version) or "not set"],
        ["Reported version", _text(run.reported_version) or "not reported"],
    ]
    if run.version_source:
        rows.append(["Version source", _text(run.version_source)])
    if run.started:
        rows.append(["Started", _utc(run.started)])
    if run.started and run.finished:
        rows.append(["Duration", _duration(run.duration)])
    if run.host:
        rows.append(["Runner host", _code(run.host)])
    if run.commit:
        rows.append(["Suite commit", _code(run.commit)])
    rows += [[_text(name), _text(value)] for name, value in run.extra]
    return ["### Environment\n\n" + _table(["Item", "Value"], rows)]


# -- pieces -------------------------------------------------------------------------------


def _phase_of(name: str, checks: Sequence[CheckResult]) -> PhaseResult:
    counts = {o: sum(c.outcome == o for c in checks) for o in ("passed", "failed", "skipped")}
    outcome: PhaseOutcome = "failed" if counts["failed"] else "passed" if counts["passed"] else "skipped"
    return PhaseResult(name, False, outcome, **counts)


def _counts(passed: int, failed: int, skipped: int, *, always_passed: bool = False) -> str:
    parts = [f"{passed} passed"] if passed or always_passed else []
    parts += [f"{n} {word}" for n, word in ((failed, "failed"), (skipped, "skipped")) if n]
    return ", ".join(parts)


def _call_name(call: CallRecord) -> str:
    action = _code(call.action or "?", SHORT_LIMIT)
    return action if call.kind == "http" else f"{_text(call.kind)} {action}"


def _status(call: CallRecord) -> str:
    outcome = _text(call.outcome) or "?"
    shown = outcome if call.ok else f"**{outcome}**"
    return f"{shown} (attempt {call.attempt})" if call.attempt > 1 else shown


def _ms(call: CallRecord) -> str:
    return format_ms(call.ms / 1000)


def _budget_note(call: CallRecord) -> str:
    if call.budget_ms is None:
        return ""
    word = "over" if call.over_limit else "budget"
    return f" ({word} {format_ms(call.budget_ms / 1000)})"


def _budget_cell(call: CallRecord) -> str:
    if call.budget_ms is None:
        return "—"
    shown = format_ms(call.budget_ms / 1000)
    return f"{shown}, **over**" if call.over_limit else shown


def _trace_notes(checks: Iterable[CheckResult]) -> dict[str, str]:
    """How each failed check's trace note (the end of its message) shows: a link with ``trace_url``, else text."""
    return {
        trace_note(check.trace_id): (
            f"(trace [{check.trace_id}]({_destination(check.trace_url)}))"
            if check.trace_url
            else trace_note(check.trace_id)
        )
        for check in checks
        if check.outcome == "failed" and check.trace_id
    }


def _split_trace(text: str, notes: Mapping[str, str]) -> tuple[str, str]:
    """*text* without the trace note it ends with, and that note as shown (`` (trace [id](url))``); kept
    apart, so that cutting a long message never cuts the trace off."""
    for note, shown in notes.items():
        if text == note or text.endswith(" " + note):
            return text[: -len(note)].rstrip(), " " + shown
    return text, ""


def _traced_text(text: str, notes: Mapping[str, str]) -> str:
    """:func:`_text` of a reason, its trace note kept whole (a link with ``trace_url``)."""
    rest, trace = _split_trace(text, notes)
    return _text(rest) + trace


def _destination(url: str) -> str:
    """*url* as a Markdown link destination: what would end or break one (spaces, brackets) percent-encoded."""
    return re.sub(r"[\s()<>\\`]", lambda match: quote(match[0]), url)


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return format_ms(seconds)
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> str:
    rule = ["---:" if index in right else "---" for index in range(len(header))]
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines)


# -- escaping -----------------------------------------------------------------------------


def _one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """*text* on one line, with runs of whitespace as one space, cut at *limit* characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _code(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """*text* as an inline code span, fenced with more backticks than it contains."""
    line = _one_line(text, limit)
    longest = max((len(run) for run in re.findall(r"`+", line)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if line.startswith("`") or line.endswith("`") else ""
    return f"{fence}{pad}{line}{pad}{fence}"


def _text(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """*text* as literal inline Markdown: escape only what Markdown would read as markup.

    Emphasis, strikethrough and code need a pair of markers, so a lone ``*``, ``~`` or backtick
    stays as it is; an underscore inside a word never emphasises.  Brackets, tags, entities and
    a line start that would begin a heading, quote or list are always escaped.  Pipes are
    escaped by the table writer, the only place where they matter.
    """
    line = _one_line(text, limit)
    paired = {mark for mark in "*_~`" if line.count(mark) > 1}
    out = []
    for index, char in enumerate(line):
        before = line[index - 1] if index else " "
        after = line[index + 1] if index + 1 < len(line) else " "
        if (
            (char == "\\" and after in string.punctuation)
            or (char in "*~`" and char in paired)
            or (char == "_" and "_" in paired and not (before.isalnum() and after.isalnum()))
            or char in "[]"
            or (char == "<" and (after.isalpha() or after in "/!?"))
            or (char == "&" and _ENTITY.match(line, index))
        ):
            out.append("\\")
        out.append(char)
    escaped = "".join(out)
    start = _BLOCK_START.match(escaped)
    if start is None:
        return escaped
    at = start.end() if start.group().isdigit() else 0
    return escaped[:at] + "\\" + escaped[at:]
