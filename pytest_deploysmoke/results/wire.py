"""The wire format: what a check's reports carry from the worker that ran it to the controller.

A check's facts travel as pytest user properties: they cross pytest-xdist's wire and reach
``--junitxml`` as ``<property>`` elements, so their names are public and their values are text
(JSON where structured) that any CI tool can read.  This module is the one place that writes
them and reads them back; the controller gets typed :class:`CallRecord` and :class:`Measurement`
objects, never dicts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final

import pytest

from pytest_deploysmoke.perf.distributions import EndpointDistribution
from pytest_deploysmoke.results.endpoints import buckets_from_json, histogram_json
from pytest_deploysmoke.results.records import CallRecord, Measurement

#: The check's phase, on every report.
PHASE_PROPERTY: Final = "deploysmoke.phase"
#: The check in checklist words (teardown report).
CHECKLIST_PROPERTY: Final = "deploysmoke.checklist"
#: Every call of the check, a JSON list of objects (teardown report, the one ``--junitxml`` reads).
CALLS_PROPERTY: Final = "deploysmoke.calls"
#: The distributions the check measured, a JSON list of objects (teardown report); a load probe's
#: per-endpoint latencies are in each one's ``distributions``, as compact ``[ms, count]`` buckets.
MEASUREMENTS_PROPERTY: Final = "deploysmoke.measurements"
#: The version the target's health endpoint reported during the check.
REPORTED_VERSION_PROPERTY: Final = "deploysmoke.reported_version"
#: A browser check's screenshot file, relative to the ticket's folder.
SCREENSHOT_PROPERTY: Final = "deploysmoke.screenshot"
#: The rule of the check's ``rollback`` mark, when it failed on its data (call report).
ROLLBACK_PROPERTY: Final = "deploysmoke.rollback"
#: The production guard kept the check from running.
BLOCKED_PROPERTY: Final = "deploysmoke.blocked"
#: A destructive check ran on production (teardown report).
WROTE_PROPERTY: Final = "deploysmoke.wrote_production"
#: Calls of fixtures wider than one check, a JSON object of fixture name -> list of calls, on
#: whichever report comes next: they belong to no check.
FIXTURE_CALLS_PROPERTY: Final = "deploysmoke.fixture_calls"
#: Cleanup that failed: one line each, naming what was left behind and how to purge it.
CLEANUP_PROPERTY: Final = "deploysmoke.cleanup"

_CALL_FIELDS: Final = frozenset(f.name for f in fields(CallRecord))
_MEASUREMENT_FIELDS: Final = frozenset(f.name for f in fields(Measurement))


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What one report says about its check (and about the wide fixtures that ran before it)."""

    phase: str = ""
    title: str = ""
    #: None when this report carries no calls (only the teardown report does).
    calls: tuple[CallRecord, ...] | None = None
    measurements: tuple[Measurement, ...] | None = None
    reported_version: str = ""
    screenshot: str = ""
    rollback_rule: str = ""
    guard_blocked: bool = False
    wrote_production: bool = False
    fixture_calls: tuple[tuple[str, tuple[CallRecord, ...]], ...] = ()
    cleanup: tuple[str, ...] = ()


def read(report: pytest.TestReport) -> ReportFacts:
    """The facts *report*'s user properties carry, decoded."""
    found: dict[str, Any] = {}
    fixture_calls: list[tuple[str, tuple[CallRecord, ...]]] = []
    cleanup: list[str] = []
    for name, value in getattr(report, "user_properties", ()):
        text = str(value)
        if name == PHASE_PROPERTY:
            found["phase"] = text
        elif name == CHECKLIST_PROPERTY:
            found["title"] = text
        elif name == CALLS_PROPERTY:
            found["calls"] = decode_calls(text)
        elif name == MEASUREMENTS_PROPERTY:
            found["measurements"] = tuple(_measurement(m) for m in _json_list(text))
        elif name == REPORTED_VERSION_PROPERTY:
            found["reported_version"] = text
        elif name == SCREENSHOT_PROPERTY:
            found["screenshot"] = text
        elif name == ROLLBACK_PROPERTY:
            found["rollback_rule"] = text
        elif name == BLOCKED_PROPERTY:
            found["guard_blocked"] = True
        elif name == WROTE_PROPERTY:
            found["wrote_production"] = True
        elif name == FIXTURE_CALLS_PROPERTY:
            loaded = json.loads(text)
            if isinstance(loaded, Mapping):
                fixture_calls += [(str(fixture), _calls(made)) for fixture, made in loaded.items()]
        elif name == CLEANUP_PROPERTY:
            cleanup.append(text)
    return ReportFacts(**found, fixture_calls=tuple(fixture_calls), cleanup=tuple(cleanup))


def phase_of(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    """The phase a report's check belongs to (None when the check has none, or the plugin is inert)."""
    for name, value in getattr(report, "user_properties", ()):
        if name == PHASE_PROPERTY:
            return str(value)
    return None


def encode_calls(calls: Iterable[CallRecord]) -> str:
    """*calls* as the JSON text of :data:`CALLS_PROPERTY`."""
    return json.dumps([call.as_dict() for call in calls])


def decode_calls(text: str) -> tuple[CallRecord, ...]:
    """The records :func:`encode_calls` wrote, back as CallRecords."""
    return _calls(json.loads(text))


def add_check_facts(
    report: pytest.TestReport,
    *,
    title: str,
    calls: Sequence[CallRecord],
    measurements: Sequence[Measurement],
    reported_version: str = "",
) -> None:
    """Put what a check did on its teardown report: its checklist words, calls and measurements."""
    properties = report.user_properties
    properties.append((CHECKLIST_PROPERTY, title))
    if reported_version:
        properties.append((REPORTED_VERSION_PROPERTY, reported_version))
    if calls:
        properties.append((CALLS_PROPERTY, encode_calls(calls)))
    if measurements:
        encoded = [_measurement_json(m) for m in measurements]
        properties.append((MEASUREMENTS_PROPERTY, json.dumps(encoded, separators=(",", ":"))))


def add_fixture_facts(
    report: pytest.TestReport, calls: Mapping[str, Sequence[CallRecord]], cleanup: Sequence[str]
) -> None:
    """Put the wide fixtures' calls and failed cleanups kept since the last report on *report*."""
    if calls:
        encoded = {name: [call.as_dict() for call in made] for name, made in calls.items()}
        report.user_properties.append((FIXTURE_CALLS_PROPERTY, json.dumps(encoded)))
    report.user_properties.extend((CLEANUP_PROPERTY, line) for line in cleanup)


def _json_list(text: str) -> list[Any]:
    loaded = json.loads(text)
    return loaded if isinstance(loaded, list) else []


def _calls(loaded: Any) -> tuple[CallRecord, ...]:
    if not isinstance(loaded, list):
        return ()
    return tuple(CallRecord(**{k: v for k, v in entry.items() if k in _CALL_FIELDS}) for entry in loaded)


def _measurement(entry: Mapping[str, Any]) -> Measurement:
    known = {k: v for k, v in entry.items() if k in _MEASUREMENT_FIELDS}
    known["distributions"] = tuple(_distribution(part) for part in known.get("distributions", ()))
    return Measurement(**known)


def _measurement_json(measurement: Measurement) -> dict[str, Any]:
    entry = measurement.as_dict()
    entry["distributions"] = [_distribution_json(part) for part in measurement.distributions]
    return entry


def _distribution_json(distribution: EndpointDistribution) -> dict[str, Any]:
    return {
        "endpoint": distribution.endpoint,
        "requests": distribution.requests,
        "errors": distribution.errors,
        "buckets": histogram_json(distribution),
        "client_bound": distribution.client_bound,
    }


def _distribution(entry: Mapping[str, Any]) -> EndpointDistribution:
    return EndpointDistribution(
        endpoint=str(entry["endpoint"]),
        requests=int(entry["requests"]),
        errors=int(entry["errors"]),
        buckets=buckets_from_json(entry["buckets"]),
        client_bound=bool(entry.get("client_bound", False)),
    )
