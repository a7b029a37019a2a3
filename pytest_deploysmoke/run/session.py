"""The deploy session: the runtime hooks, on a plugin object registered only when a target is selected.

Like pytest's ``LogXML`` (registered only with ``--junitxml``) and xdist's ``DSession`` (only
with ``-n``), nothing here runs in a project's ordinary test run: without a target no hook of
this module is called, and no other plugin's object is touched.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_deploysmoke import phases
from pytest_deploysmoke.config.settings import RunSettings
from pytest_deploysmoke.run import plugins


class DeploySession:
    """The hooks of a run with a deploy target: header, launch, phases, recording, reports."""

    def __init__(self, config: pytest.Config, settings: RunSettings) -> None:
        self.config = config
        self.settings = settings

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        from pytest_deploysmoke.config import settings

        return settings.header_lines(config)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        from pytest_deploysmoke.run import launch

        launch.prepare_target(session)

    @pytest.hookimpl(wrapper=True)
    def pytest_pycollect_makeitem(self, collector: pytest.Collector) -> Generator[None, Any, Any]:
        result = yield
        if result is not None:
            config = self.settings.config
            phases.check_collected(collector, result, config.phases, config.default_phase)
        return result

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        from pytest_deploysmoke.run import migrations, preflight, version_check

        migrations.add_migrations_check(session, self.settings, items)
        preflight.add_required_env_check(session, self.settings, items)
        version_check.add_version_check(session, self.settings, items)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        from pytest_deploysmoke.results import records

        records.set_current_item(item.config, item)
        try:
            return (yield)
        finally:
            records.set_current_item(item.config, None)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        __tracebackhide__ = True  # a fixture's own failure shows its frames, not this wrapper's
        from pytest_deploysmoke.clients import tracecontext

        tracecontext.begin_check(item)  # one trace for every call of the check; a rerun starts its own
        return (yield from _translating_failures(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        __tracebackhide__ = True
        return (yield from _translating_failures(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        from pytest_deploysmoke.config import settings
        from pytest_deploysmoke.run import annotation

        if report.when == "call" and report.failed and call.excinfo is not None:
            annotation.note_rollback(item, report, call.excinfo.value)
        annotation.annotate(item, report, settings.get_redactor(item.config))
        return report


def _translating_failures(item: pytest.Item) -> Generator[None, None, None]:
    """The body of the setup and call wrappers: recognised library errors become one line."""
    __tracebackhide__ = True
    try:
        return (yield)
    except Exception as exc:
        from pytest_deploysmoke.clients import network

        failure = network.translate(item, exc)
        if failure is None:
            raise
        raise failure from None


def register(config: pytest.Config, settings: RunSettings) -> None:
    """Register the deploy session (controller and workers); it is unregistered with the config."""
    plugins.register(config, DeploySession(config, settings), "deploysmoke-session")
