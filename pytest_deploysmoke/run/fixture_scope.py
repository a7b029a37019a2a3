"""Fixture scope: calls of fixtures wider than one check are recorded under the fixture, not a check.

A session fixture sets up during the first check that asks for it and cleans up during the last
check's teardown.  Its calls (a login, a throwaway user's register and delete) belong to neither
check, so they go to the run's "setup and cleanup" and never into a check's figures, its slowest
call or a rollback rule's counts; its setup, and its cleanup, are each a trace of their own.
"""

from __future__ import annotations

import functools
from collections.abc import Generator
from typing import Any

import pytest

from pytest_deploysmoke.results import records
from pytest_deploysmoke.run import plugins


class FixtureScope:
    """A plugin object, registered when a target is selected, that tracks which wide fixture is busy."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, Any]:
        __tracebackhide__ = True
        if fixturedef.scope == "function":
            return (yield)
        name = fixturedef.argname
        enter(self.config, name)
        try:
            result = yield
        finally:
            records.leave_fixture(self.config, name)
        # Finalizers run last-in, first-out: this one runs just before the fixture's own teardown
        # (registered while it set up), and pytest_fixture_post_finalizer ends it.
        fixturedef.addfinalizer(functools.partial(enter, self.config, name))
        return result

    def pytest_fixture_post_finalizer(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        if fixturedef.scope != "function":
            records.leave_fixture(self.config, fixturedef.argname)


def enter(config: pytest.Config, name: str) -> None:
    """Record the calls under fixture *name*, which starts to set up or clean up, in a trace of their own."""
    from pytest_deploysmoke.clients import tracecontext

    records.enter_fixture(config, name)
    tracecontext.begin_fixture(config, name)


def register(config: pytest.Config) -> None:
    """Register the fixture scope tracker (controller and workers: fixtures run where checks run)."""
    plugins.register(config, FixtureScope(config), "deploysmoke-fixture-scope")
