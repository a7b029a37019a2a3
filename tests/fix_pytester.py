"""Fixture plugin: what every pytester project gets, and reading back the calls a run recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _quiet_asyncio_ini(request: pytest.FixtureRequest) -> None:
    """Give every pytester project an ini that settles pytest-asyncio's loop-scope warning."""
    if "pytester" in request.fixturenames:
        pytester: pytest.Pytester = request.getfixturevalue("pytester")
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def recorded_calls(reprec: pytest.HookRecorder, nodeid_part: str = "") -> list[dict[str, Any]]:
    """The call records (``deploysmoke.calls``) of the checks whose node id contains *nodeid_part*."""
    return [
        call
        for report in reprec.getreports("pytest_runtest_logreport")
        if nodeid_part in report.nodeid
        for name, value in report.user_properties
        if name == "deploysmoke.calls"
        for call in json.loads(value)
    ]


def recorded_fixture_calls(reprec: pytest.HookRecorder, fixture: str) -> list[dict[str, Any]]:
    """The calls fixture *fixture* (wider than a check) made while setting up and cleaning up."""
    return [
        call
        for report in reprec.getreports("pytest_runtest_logreport")
        for name, value in report.user_properties
        if name == "deploysmoke.fixture_calls"
        for call in json.loads(value).get(fixture, [])
    ]
