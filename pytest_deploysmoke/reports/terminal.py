"""Terminal summary: per-phase outcomes, guarded checks, and the verdict as the very last line."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_deploysmoke.summary import get_verdict

_WORDS = {"passed": "PASSED", "failed": "FAILED", "skipped": "SKIPPED", "not run": "not run"}
_COLOURS = {"passed": {"green": True}, "failed": {"red": True}, "skipped": {"yellow": True}}
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
    blocked = [check.nodeid for check in verdict.checks if check.guard_blocked]
    if blocked:
        tr.write_line(
            f"  {len(blocked)} destructive check(s) NOT RUN because target '{verdict.run.target}' is production "
            "(use --allow-destructive or allow_destructive = true to run them):",
            yellow=True,
            bold=True,
        )
        for nodeid in blocked:
            tr.write_line(f"    - {nodeid}", yellow=True)
    if verdict.watch:
        tr.write_line(f"  {verdict.watch}")
    for reason in verdict.rollback:
        tr.write_line(f"  ROLLBACK: {reason}", purple=True, bold=True)
    for reason in verdict.reasons:
        tr.write_line(f"  NO-GO: {reason}", red=True)
    for warning in verdict.warnings:
        tr.write_line(f"  warning: {warning}", yellow=True)


class VerdictLine:
    """Prints the verdict alone on the line just above pytest's final counts."""

    # The outermost wrapper of pytest_terminal_summary ends after pytest's short test summary.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> Generator[None, None, None]:
        result = yield
        verdict = get_verdict(config)
        if verdict is not None:
            terminalreporter.write_line(
                f"deploysmoke verdict: {verdict.headline()}", bold=True, **_DECISION_COLOURS[verdict.decision]
            )
        return result
