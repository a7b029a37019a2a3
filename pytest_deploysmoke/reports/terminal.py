"""Terminal summary: per-phase outcomes, guarded checks, and the verdict as the very last line."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_deploysmoke.reports.comparison import terminal_lines
from pytest_deploysmoke.results.summary import get_verdict
from pytest_deploysmoke.results.verdict import Verdict

_WORDS = {"passed": "PASSED", "failed": "FAILED", "skipped": "SKIPPED", "not run": "not run"}
_COLOURS = {"passed": {"green": True}, "failed": {"red": True}, "skipped": {"yellow": True}}
_COMPARISON_COLOURS = {"regression": {"red": True, "bold": True}, "improvement": {"green": True}}
_DECISION_COLOURS = {
    "GO": {"green": True},
    "GO with warnings": {"yellow": True},
    "NO-GO": {"red": True},
    "ROLLBACK": {"purple": True},
}


def write_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Write the deploysmoke section at the end of the terminal summary."""
    verdict = get_verdict(config)
    if verdict is None:
        return
    tr = terminalreporter
    tr.write_sep("=", f"deploysmoke: target '{verdict.run.target}'")
    width = max(len(phase.name) for phase in verdict.phases)
    for phase in verdict.phases:
        counts = {"passed": phase.passed, "failed": phase.failed, "skipped": phase.skipped}
        detail = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        gate = " (gate)" if phase.gate else ""
        line = f"  {phase.name:<{width}}  {_WORDS[phase.outcome]:<7}{gate}"
        tr.write_line(f"{line}  {detail}".rstrip() if detail else line.rstrip(), **_COLOURS.get(phase.outcome, {}))
    if verdict.run.version_line():
        tr.write_line(f"  {verdict.run.version_line()}", **({"red": True} if verdict.run.version_mismatch else {}))
    if verdict.partial:
        tr.write_line(f"  partial run: {verdict.selection.describe()}", yellow=True, bold=True)
    if verdict.held_back:
        tr.write_line(
            f"  {len(verdict.held_back)} destructive check(s) not run on production (by design): target "
            f"'{verdict.run.target}' is production (--allow-destructive or allow_destructive = true runs them):",
            yellow=True,
        )
        for check in verdict.held_back:
            tr.write_line(f"    - {check.nodeid}", yellow=True)
    for check in verdict.production_writes:
        tr.write_line(f"  WROTE TO PRODUCTION: {check.nodeid}: {check.writes_text()}", red=True, bold=True)
    for fixture in verdict.fixture_calls:
        tr.write_line(f"  setup and cleanup: {fixture.fixture}: {len(fixture.calls)} call(s)")
    if verdict.manual:
        tr.write_line(f"  {manual_line(verdict)}")
    if verdict.watch:
        tr.write_line(f"  {verdict.watch}")
    if verdict.comparison is not None:
        for kind, line in terminal_lines(verdict.comparison):
            tr.write_line(f"  {line}", **_COMPARISON_COLOURS.get(kind, {}))
    for reason in verdict.rollback:
        tr.write_line(f"  ROLLBACK: {reason}", purple=True, bold=True)
    for reason in verdict.reasons:
        tr.write_line(f"  NO-GO: {reason}", red=True)
    for warning in verdict.warnings:
        tr.write_line(f"  warning: {warning}", yellow=True)


def manual_line(verdict: Verdict) -> str:
    """``manual items: 2 of 4 confirmed (backup, frontend); to do by hand: env, rollback``.

    An open required item is also a NO-GO reason, with its text and how to confirm it.
    """
    confirmed = [result.item.id for result in verdict.manual if result.confirmed]
    still_open = [
        result.item.id + (" (required)" if result.item.required else "")
        for result in verdict.manual
        if not result.confirmed
    ]
    line = f"manual items: {len(confirmed)} of {len(verdict.manual)} confirmed"
    line += f" ({', '.join(confirmed)})" if confirmed else ""
    return line + (f"; to do by hand: {', '.join(still_open)}" if still_open else "")


class TerminalReport:
    """The deploysmoke section of the terminal summary, and the verdict alone on the line just
    above pytest's final counts (controller only)."""

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        write_summary(terminalreporter, config)

    # The outermost wrapper of pytest_terminal_summary ends after pytest's short test summary.
    @pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_terminal_summary")
    def pytest_terminal_summary_last_line(
        self, terminalreporter: Any, config: pytest.Config
    ) -> Generator[None, None, None]:
        result = yield
        verdict = get_verdict(config)
        if verdict is not None:
            write_verdict_line(terminalreporter, verdict)
        return result

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        verdict = get_verdict(session.config)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if verdict is not None and reporter is not None and session.exitstatus == pytest.ExitCode.INTERNAL_ERROR:
            # pytest prints no terminal summary after an internal error: the verdict line goes out here.
            write_verdict_line(reporter, verdict)


def write_verdict_line(terminalreporter: Any, verdict: Verdict) -> None:
    """``deploysmoke verdict: NO-GO: ...``, coloured by the decision."""
    terminalreporter.ensure_newline()
    terminalreporter.write_line(
        f"deploysmoke verdict: {verdict.headline()}", bold=True, **_DECISION_COLOURS[verdict.decision]
    )
