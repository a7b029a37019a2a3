"""Report annotation: phase and guard facts on every report, and secrets masked in it."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_deploysmoke import guard, phases
from pytest_deploysmoke.config.redaction import Redactor
from pytest_deploysmoke.results import records, wire


def annotate(item: pytest.Item, report: pytest.TestReport, redactor: Redactor) -> None:
    """Add the check's phase (and a guard block) as user properties, and redact the report.

    User properties cross pytest-xdist's wire and reach ``--junitxml`` as properties, so the
    controller knows each check's phase without the item.
    """
    if report.when == "teardown":
        wire.add_check_facts(
            report,
            title=checklist_title(item),
            calls=records.records_of(item),
            measurements=records.measurements_of(item),
            reported_version=item.stash.get(records.reported_version_key, ""),
        )
    phase = phases.get_phase(item)
    if phase is not None:
        report.user_properties.append((wire.PHASE_PROPERTY, phase.name))
        decision = guard.get_decision(item)
        if decision is not None and not decision.may_run:
            report.user_properties.append((wire.BLOCKED_PROPERTY, "production"))
        elif decision is not None and decision.writes_production and report.when == "teardown":
            report.user_properties.append((wire.WROTE_PROPERTY, "production"))
    carry_fixture_calls(item.config, report)
    redact_report(report, redactor)


def carry_fixture_calls(config: pytest.Config, report: pytest.TestReport) -> None:
    """Put the calls of wide fixtures and the failed cleanups kept since the last report on *report*."""
    log = config.stash.get(records.fixture_log_key, None)
    if log is None:
        return
    wire.add_fixture_facts(report, *log.take())


def note_rollback(item: pytest.Item, report: pytest.TestReport, exc: BaseException) -> None:
    """When a check with a ``rollback`` mark failed on its data, put the rule on its call report.

    A failure to get an answer (refused, timed out, over budget, a 5xx) is not the data's fault:
    the check fails as any other, and availability has rollback rules of its own.
    """
    from pytest_deploysmoke.errors import is_data_failure

    rule = phases.rollback_rule(item)
    if rule and is_data_failure(exc):
        report.user_properties.append((wire.ROLLBACK_PROPERTY, rule))


def checklist_title(item: pytest.Item) -> str:
    """The check in a release manager's words: ``checklist=`` on its phase mark, else its docstring's first line."""
    phase = phases.get_phase(item)
    if phase is not None and phase.checklist:
        return phase.checklist
    doc = getattr(getattr(item, "obj", None), "__doc__", None)
    if isinstance(doc, str) and doc.strip():
        return doc.strip().splitlines()[0].strip()
    name = item.name.split("[", 1)[0].removeprefix("test_")
    return name.replace("_", " ").capitalize()


def redact_report(report: pytest.TestReport, redactor: Redactor) -> None:
    """Mask secrets in the failure text and the captured output of *report*.

    The structured failure representation is kept unless masking actually changed its text,
    so ordinary failures look exactly as pytest prints them.
    """
    longrepr: Any = report.longrepr
    if longrepr is not None:
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            path, lineno, reason = longrepr
            report.longrepr = (path, lineno, redactor.redact(str(reason)))
        elif isinstance(longrepr, str):
            report.longrepr = redactor.redact(longrepr)
        else:
            text = str(longrepr)
            if redactor.redact(text) != text:
                _redact_in_place(longrepr, redactor)
                if redactor.redact(str(longrepr)) != str(longrepr):
                    report.longrepr = redactor.redact(text)  # a shape we did not walk: flatten
    if report.sections:
        report.sections = [(title, redactor.redact(body)) for title, body in report.sections]
    report.user_properties = [
        (name, redactor.redact(value) if isinstance(value, str) else value) for name, value in report.user_properties
    ]


def _redact_in_place(obj: Any, redactor: Redactor, depth: int = 0) -> Any:
    """Mask strings inside pytest's failure representation, keeping its structure.

    Keeping the objects keeps the short summary line (``reprcrash``) and xdist's serialization.
    """
    if isinstance(obj, str):
        return redactor.redact(obj)
    if depth > 12 or obj is None or isinstance(obj, (int, float, bool)):
        return obj
    if isinstance(obj, list):
        obj[:] = [_redact_in_place(v, redactor, depth + 1) for v in obj]
        return obj
    if isinstance(obj, tuple):
        return tuple(_redact_in_place(v, redactor, depth + 1) for v in obj)
    if isinstance(obj, dict):
        for key in list(obj):
            obj[key] = _redact_in_place(obj[key], redactor, depth + 1)
        return obj
    if type(obj).__module__.startswith("_pytest."):
        for name, value in list(vars(obj).items()):
            object.__setattr__(obj, name, _redact_in_place(value, redactor, depth + 1))
    return obj
