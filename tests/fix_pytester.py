"""Fixture plugin: what every pytester project gets, and reading back the calls a run recorded."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _quiet_asyncio_ini(request: pytest.FixtureRequest) -> None:
    """Give every pytester project an ini that settles pytest-asyncio's loop-scope warning."""
    if "pytester" in request.fixturenames:
        pytester: pytest.Pytester = request.getfixturevalue("pytester")
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def _user_property(reprec: pytest.HookRecorder, name: str, nodeid_part: str = "") -> list[Any]:
    """The decoded JSON values of user property *name* on the reports whose node id contains *nodeid_part*."""
    values = []
    for report in reprec.getreports("pytest_runtest_logreport"):
        if nodeid_part in report.nodeid:
            values += [json.loads(str(value)) for key, value in report.user_properties if key == name]
    return values


def recorded_calls(reprec: pytest.HookRecorder, nodeid_part: str = "") -> list[dict[str, Any]]:
    """The call records (``deploysmoke.calls``) of the checks whose node id contains *nodeid_part*."""
    return [call for calls in _user_property(reprec, "deploysmoke.calls", nodeid_part) for call in calls]


def recorded_fixture_calls(reprec: pytest.HookRecorder, fixture: str) -> list[dict[str, Any]]:
    """The calls fixture *fixture* (wider than a check) made while setting up and cleaning up."""
    return [call for calls in _user_property(reprec, "deploysmoke.fixture_calls") for call in calls.get(fixture, [])]


#: How a failed check's message (and its reason) ends when its calls carried a trace.
TRACE_NOTE = re.compile(r" \(trace [0-9a-f]{32}\)$")


def without_trace(line: str) -> str:
    """*line*, a failed check's message or reason, without the trace note it must end with."""
    assert TRACE_NOTE.search(line), f"no trace note at the end of: {line}"
    return TRACE_NOTE.sub("", line)
