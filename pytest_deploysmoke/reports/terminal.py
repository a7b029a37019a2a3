"""Terminal summary: per-phase outcomes, failed gates, and checks the production guard held back."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_deploysmoke import guard
from pytest_deploysmoke.gating import get_phase_ledger, skip_reason
from pytest_deploysmoke.targets import get_settings

_MARKS = {"passed": "PASSED", "failed": "FAILED", "skipped": "SKIPPED", "not run": "not run"}


def write_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Write the deploysmoke section at the end of the terminal summary."""
    settings = get_settings(config)
    ledger = get_phase_ledger(config)
    if settings is None or ledger is None:
        return
    tr = terminalreporter
    tr.write_sep("=", f"deploysmoke: target '{settings.target.name}'")
    width = max(len(p) for p in ledger.phases)
    for phase, outcome in ledger.outcomes().items():
        counts = ledger.counts(phase)
        detail = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        gate = " (gate)" if phase in ledger.gates else ""
        line = f"  {phase:<{width}}  {_MARKS[outcome]:<7}{gate}"
        tr.write_line(f"{line}  {detail}".rstrip() if detail else line.rstrip(), **_markup(outcome))
    for failure in ledger.gate_failures:
        tr.write_line(f"  {skip_reason(failure)}", red=True, bold=True)
    blocked = sorted(
        {
            report.nodeid
            for report in tr.stats.get("skipped", [])
            if any(name == guard.BLOCKED_PROPERTY for name, _ in getattr(report, "user_properties", ()))
        }
    )
    if blocked:
        tr.write_line(
            f"  {len(blocked)} destructive check(s) NOT RUN because target '{settings.target.name}' is production "
            "(use --allow-destructive or allow_destructive = true to run them):",
            yellow=True,
            bold=True,
        )
        for nodeid in blocked:
            tr.write_line(f"    - {nodeid}", yellow=True)


def _markup(outcome: str) -> dict[str, bool]:
    return {"passed": {"green": True}, "failed": {"red": True}, "skipped": {"yellow": True}}.get(outcome, {})
