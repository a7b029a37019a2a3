"""JSON summary (`--deploy-json`): the Verdict as a schema-versioned document for CI (no pytest)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pytest_deploysmoke.results.verdict import CheckResult, PhaseResult, RunInfo, Selection, Verdict

if TYPE_CHECKING:
    from pytest_deploysmoke.results.records import CallRecord, Measurement

#: The document's ``"schema"``; fields are only added within one number, and a removal or a
#: change of meaning bumps it (see docs/json-schema.md).
SCHEMA_VERSION = 1
#: The JSON Schema of that version, shipped in the package (``importlib.resources``).
SCHEMA_RESOURCE = f"schemas/summary-{SCHEMA_VERSION}.schema.json"
TOOL_NAME = "pytest-deploysmoke"


def render_json(verdict: Verdict) -> str:
    """The JSON summary of *verdict*: keys in a fixed order, two-space indent, a final newline."""
    document = summary_document(verdict)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def summary_document(verdict: Verdict) -> dict[str, Any]:
    """The JSON summary as plain values, before serialisation."""
    run = verdict.run
    return {
        "schema": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": _tool_version()},
        "target": {"name": run.target, "base_url": run.base_url, "production": run.production},
        "versions": {
            "expected": run.expected_version or None,
            "reported": run.reported_version or None,
            "source": run.version_source or None,
        },
        "started": _timestamp(run.started),
        "finished": _timestamp(run.finished),
        "duration_s": _seconds(run.duration),
        "verdict": {
            "decision": verdict.decision,
            "reasons": list(verdict.reasons),
            "warnings": list(verdict.warnings),
            "rollback": list(verdict.rollback),
        },
        "selection": _selection(verdict.selection),
        "interrupted": verdict.ending.interrupted or None,
        "not_ready": verdict.ending.not_ready or None,
        "phases": [_phase(phase) for phase in verdict.phases],
        "checks": [_check(check) for check in verdict.checks],
        "held_back": [{"nodeid": check.nodeid, "title": check.title} for check in verdict.held_back],
        "production_writes": [
            {"nodeid": check.nodeid, "title": check.title, "calls": [_call(call) for call in check.write_calls]}
            for check in verdict.production_writes
        ],
        "setup_and_cleanup": [
            {"fixture": fixture.fixture, "calls": [_call(call) for call in fixture.calls]}
            for fixture in verdict.fixture_calls
        ],
        "cleanup_failures": list(verdict.ending.cleanup),
        "environment": _environment(run),
    }


def _selection(selection: Selection) -> dict[str, Any]:
    return {
        "partial": selection.partial,
        "selected": selection.selected,
        "collected": selection.collected,
        "narrowed_by": list(selection.narrowed_by),
    }


def _phase(phase: PhaseResult) -> dict[str, Any]:
    return {
        "name": phase.name,
        "gate": phase.gate,
        "outcome": phase.outcome,
        "passed": phase.passed,
        "failed": phase.failed,
        "skipped": phase.skipped,
    }


def _check(check: CheckResult) -> dict[str, Any]:
    return {
        "nodeid": check.nodeid,
        "phase": check.phase,
        "title": check.title,
        "outcome": check.outcome,
        "duration_s": _seconds(check.duration),
        "message": check.message or None,
        "reruns": check.reruns,
        "guard_blocked": check.guard_blocked,
        "rollback_rule": check.rollback_rule or None,
        "screenshot": check.screenshot or None,
        "calls": [_call(call) for call in check.calls],
        "measurements": [_measurement(measurement) for measurement in check.measurements],
        "trace_url": check.trace_url or None,
    }


def _call(call: CallRecord) -> dict[str, Any]:
    # The fields are picked one by one, so a field added to CallRecord reaches the document
    # only together with its schema entry.
    return {
        "kind": call.kind,
        "action": call.action,
        "outcome": call.outcome,
        "ok": call.ok,
        "ms": _ms(call.ms),
        "budget_ms": None if call.budget_ms is None else _ms(call.budget_ms),
        "attempt": call.attempt,
        "target_ms": None if call.target_ms is None else _ms(call.target_ms),
        "write": call.write,
        "warmup": call.warmup,
        "trace_id": call.trace_id or None,
    }


def _measurement(measurement: Measurement) -> dict[str, Any]:
    def ms(value: float | None) -> float | None:
        return None if value is None else _ms(value)

    return {
        "action": measurement.action,
        "n": measurement.n,
        "errors": measurement.errors,
        "p50_ms": ms(measurement.p50_ms),
        "p95_ms": ms(measurement.p95_ms),
        "p99_ms": ms(measurement.p99_ms),
        "budget": measurement.budget or None,
        "engine": measurement.engine,
        "not_evaluated": measurement.not_evaluated or None,
    }


def _environment(run: RunInfo) -> dict[str, str | None]:
    rows: dict[str, str | None] = {"host": run.host or None, "commit": run.commit or None}
    for name, value in run.extra:
        if name not in ("host", "commit"):  # the measured values are not overridden by a hook
            rows[name] = value
    return rows


def _timestamp(seconds: float) -> str:
    """ISO 8601 in UTC with a ``Z`` and milliseconds: ``2025-06-01T12:00:03.250Z``."""
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seconds(value: float) -> float:
    return round(max(float(value), 0.0), 3)


def _ms(value: float) -> float:
    return round(value, 1)


def _tool_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(TOOL_NAME)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return None
