"""pytest entry point: wiring only. Behaviour lives in the modules it calls."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_deploysmoke import annotation, gating, launch, phases, preflight, targets
from pytest_deploysmoke.errors import ConfigError
from pytest_deploysmoke.reports import terminal

pytest_plugins = ["pytest_deploysmoke.fixtures.target"]


def pytest_addoption(parser: pytest.Parser) -> None:
    from pytest_deploysmoke.options import add_options

    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for line in phases.MARKERS:
        config.addinivalue_line("markers", line)
    try:
        settings = targets.configure(config)
    except ConfigError as exc:
        raise pytest.UsageError(targets.get_redactor(config).redact(str(exc))) from None
    if settings is None:
        return
    gatekeeper = gating.Gatekeeper(config, settings)
    config.pluginmanager.register(gatekeeper, "deploysmoke-gatekeeper")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(gating.XdistHooks(gatekeeper, settings.port), "deploysmoke-xdist")


def pytest_report_header(config: pytest.Config) -> list[str]:
    return targets.header_lines(config)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    launch.prepare_target(session.config)


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> Generator[None, Any, Any]:
    result = yield
    settings = targets.get_settings(collector.config)
    if settings is not None and result is not None:
        phases.check_collected(collector, result, settings.config.phases, settings.config.default_phase)
    return result


def pytest_itemcollected(item: pytest.Item) -> None:
    phases.imply_smoke(item)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    settings = targets.get_settings(config)
    if settings is None:
        for item in items:
            if item.get_closest_marker("smoke") is not None:
                item.add_marker(pytest.mark.skip(reason=targets.NO_TARGET_REASON))
        return
    preflight.add_required_env_check(session, settings, items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    annotation.annotate(item, report, targets.get_redactor(item.config))
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    terminal.write_summary(terminalreporter, config)
