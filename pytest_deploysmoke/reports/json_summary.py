"""JSON summary (`--deploy-json`): the Verdict as a schema-versioned document for CI (no pytest)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pytest_deploysmoke.results.endpoints import histogram_json
from pytest_deploysmoke.results.verdict import CheckResult, PhaseResult, RunInfo, Selection, Verdict

if TYPE_CHECKING:
    from pytest_deploysmoke.perf.compare import Comparison, EndpointComparison
    from pytest_deploysmoke.perf.distributions import EndpointDistribution
    from pytest_deploysmoke.results.manual import ManualResult
    from pytest_deploysmoke.results.records import CallRecord, Measurement
    from pytest_deploysmoke.results.watch_log import ProbeFigures, WatchInterval

#: The document's ``"schema"``; fields are only added within one number, and a removal or a
#: change of meaning bumps it (see docs/json-schema.md).
SCHEMA_VERSION = 1
#: The JSON Schema of that version, shipped in the package (``importlib.resources``).
SCHEMA_RESOURCE = f"schemas/summary-{SCHEMA_VERSION}.schema.json"
TOOL_NAME = "pytest-deploysmoke"


def render_json(verdict: Verdict) -> str:
    """The JSON summary of *verdict*: keys in a fixed order, two-space indent, a final newline.

    Each ``endpoints[].histogram`` is written on one line: hundreds of ``[ms, count]`` pairs
    indented one number a line would make the file unreadable.
    """
    document = summary_document(verdict)
    inline = _inline_histograms(document)
    text = json.dumps(document, indent=2, ensure_ascii=False)
    for placeholder, compact in inline.items():
        text = text.replace(placeholder, compact, 1)
    return text + "\n"


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
        "watch": _watch(verdict),
        "comparison": _comparison(verdict.comparison),
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
        "manual": [_manual(result) for result in verdict.manual],
        "endpoints": _endpoints(verdict),
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


def _manual(result: ManualResult) -> dict[str, Any]:
    confirmation = result.confirmation
    return {
        "id": result.item.id,
        "text": result.item.text,
        "phase": result.item.phase,
        "owner": result.item.owner or None,
        "required": result.item.required,
        "confirmed": confirmation is not None,
        "by": None if confirmation is None else confirmation.by,
        "at": None if confirmation is None else _timestamp(confirmation.at),
        "note": None if confirmation is None else confirmation.note or None,
    }


def _watch(verdict: Verdict) -> dict[str, Any] | None:
    """The watch window's plan, how it ended and each interval's figures; None when no window ran."""
    log = verdict.watch_log
    if log is None:
        return None
    return {
        "duration_s": _seconds(log.duration),
        "every_s": _seconds(log.every),
        "planned": log.planned,
        "stopped": log.stopped or None,
        "line": verdict.watch,
        "max_error_rate": log.max_error_rate,
        "intervals": [_watch_interval(interval) for interval in log.intervals],
    }


def _comparison(comparison: Comparison | None) -> dict[str, Any] | None:
    """The run against its baseline: who the baseline is, the settings, each endpoint; None without a comparison."""
    if comparison is None:
        return None
    identity, settings = comparison.identity, comparison.settings
    return {
        "baseline": {
            "label": comparison.baseline,
            "kind": None if identity is None else identity.kind,
            "target": None if identity is None else identity.target,
            "version": None if identity is None else identity.version or None,
            "started": None if identity is None or identity.started is None else _timestamp(identity.started),
            "path": None if identity is None else identity.path or None,
        },
        "settings": {
            "tolerance_pct": round(settings.tolerance * 100, 3),
            "confidence": settings.confidence,
            "min_samples": settings.min_samples,
            "min_shift_ms": settings.min_shift_ms,
            "endpoints": list(settings.endpoints),
            "on_regression": settings.on_regression,
        },
        "endpoints": [_compared(row) for row in comparison.endpoints],
        "only_baseline": list(comparison.only_baseline),
        "only_now": list(comparison.only_now),
    }


def _compared(row: EndpointComparison) -> dict[str, Any]:
    # The names first, in its order; then what the reasons and the table also show.
    return {
        "endpoint": row.endpoint,
        "n_baseline": row.n_baseline,
        "n_now": row.n_now,
        "p50_baseline_ms": _optional_ms(row.p50_baseline_ms),
        "p50_now_ms": _optional_ms(row.p50_now_ms),
        "p95_baseline_ms": _optional_ms(row.p95_baseline_ms),
        "p95_now_ms": _optional_ms(row.p95_now_ms),
        "shift_pct": None if row.shift_pct is None else round(row.shift_pct, 1),
        "p_value": row.p_value,
        "error_rate_baseline": _rate(row.error_rate_baseline),
        "error_rate_now": _rate(row.error_rate_now),
        "verdict": row.verdict,
        "error_p_value": row.error_p_value,
        "rules": list(row.rules),
        "note": row.note or None,
        "requests_baseline": row.requests_baseline,
        "requests_now": row.requests_now,
        "errors_baseline": row.errors_baseline,
        "errors_now": row.errors_now,
    }


def _rate(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 6)


def _watch_interval(interval: WatchInterval) -> dict[str, Any]:
    rate = interval.error_rate
    return {
        "start": _timestamp(interval.start),
        "seconds": _seconds(interval.seconds),
        "requests": interval.requests,
        "errors": dict(interval.errors),
        "error_rate": None if rate is None else round(rate, 4),
        "p95_ms": _optional_ms(interval.p95_ms),
        "probes": {probe.probe: _watch_probe(probe) for probe in interval.probes},
        "ws_connects": interval.ws_connects,
        "ws_failures": interval.ws_failures,
        "cpu": None if interval.cpu is None else round(interval.cpu, 4),
        "memory_bytes": None if interval.memory_bytes is None else round(interval.memory_bytes),
    }


def _watch_probe(probe: ProbeFigures) -> dict[str, Any]:
    return {
        "p50_ms": _optional_ms(probe.p50_ms),
        "p95_ms": _optional_ms(probe.p95_ms),
        "requests": probe.requests,
        "errors": probe.errors,
    }


def _endpoints(verdict: Verdict) -> list[dict[str, Any]]:
    """Each endpoint's distribution over the run: the checks' (and load probes'), then the watch window's probes."""
    watched = verdict.watch_log.distributions if verdict.watch_log is not None else ()
    return [_endpoint(part) for part in (*verdict.endpoints, *watched)]


def _endpoint(part: EndpointDistribution) -> dict[str, Any]:
    return {
        "endpoint": part.endpoint,
        "source": part.source,
        "requests": part.requests,
        "errors": part.errors,
        "client_bound": part.client_bound,
        "p50_ms": _optional_ms(part.percentile(50.0)),
        "p95_ms": _optional_ms(part.percentile(95.0)),
        "histogram": histogram_json(part),
    }


def _inline_histograms(document: dict[str, Any]) -> dict[str, str]:
    """Put a placeholder in place of each histogram of *document*; return each placeholder's
    quoted JSON text and the histogram's one-line JSON, to put back into the indented text."""
    from uuid import uuid4

    marker = uuid4().hex
    inline = {}
    for index, entry in enumerate(document["endpoints"]):
        placeholder = f"{marker}-{index}"
        inline[json.dumps(placeholder)] = json.dumps(entry["histogram"], separators=(", ", ": "))
        entry["histogram"] = placeholder
    return inline


def _optional_ms(value: float | None) -> float | None:
    return None if value is None else _ms(value)


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
