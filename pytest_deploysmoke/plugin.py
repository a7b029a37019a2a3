"""pytest entry point: wiring only. Behaviour lives in the modules it calls.

Only light modules are imported here.  With no deploy target selected the plugin stays inert,
and the modules that read the config (TOML, URL parsing, difflib) are never imported: adding
the plugin to an ordinary project must not slow its test runs down.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke import options, phases

if TYPE_CHECKING:
    from pytest_deploysmoke.targets import RunSettings

pytest_plugins = ["pytest_deploysmoke.fixtures"]


def _settings(config: pytest.Config) -> RunSettings | None:
    """The run's settings, or None when inert; the config modules load only when a target is asked for."""
    if not options.target_requested(config):
        return None
    from pytest_deploysmoke.targets import get_settings

    return get_settings(config)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_deploysmoke import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl(tryfirst=True, specname="pytest_configure")
def pytest_configure_remember_base_url(config: pytest.Config) -> None:
    """Read --base-url before pytest-base-url's own pytest_configure fills it from the ini file."""
    config.stash[options.user_base_url_key] = config.getoption("base_url", None)


def pytest_configure(config: pytest.Config) -> None:
    for line in phases.MARKERS:
        config.addinivalue_line("markers", line)
    if not options.target_requested(config):
        return
    from pytest_deploysmoke import fixture_scope, gating, interruption, reports, selection, targets
    from pytest_deploysmoke.errors import ConfigError

    try:
        settings = targets.configure(config)
        if settings is None:
            return
        if not hasattr(config, "workerinput"):  # the reports come together on the controller
            reports.register_writers(config, settings)
            interruption.register(config)
        if config.pluginmanager.has_plugin("playwright"):
            from pytest_deploysmoke import ui

            ui.feed_base_url(config, settings.target, config.stash.get(options.user_base_url_key, None))
    except ConfigError as exc:
        raise pytest.UsageError(targets.get_redactor(config).redact(str(exc))) from None
    gating.register(config, settings)
    selection.register(config, settings.only_phases)
    fixture_scope.register(config)


def pytest_report_header(config: pytest.Config) -> list[str]:
    if _settings(config) is None:
        return []
    from pytest_deploysmoke import targets

    return targets.header_lines(config)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    if _settings(session.config) is not None:
        from pytest_deploysmoke import launch

        launch.prepare_target(session)


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Generator[None, Any, Any]:
    result = yield
    settings = _settings(collector.config)
    if settings is not None and result is not None:
        phases.check_collected(collector, result, settings.config.phases, settings.config.default_phase)
    return result


def pytest_itemcollected(item: pytest.Item) -> None:
    phases.imply_smoke(item)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = _settings(config)
    if settings is None:
        phases.skip_without_target(items)
        return
    from pytest_deploysmoke import preflight

    preflight.add_required_env_check(session, settings, items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    if _settings(item.config) is None:
        return (yield)
    from pytest_deploysmoke import records

    records.set_current_item(item.config, item)
    try:
        return (yield)
    finally:
        records.set_current_item(item.config, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    __tracebackhide__ = True  # a fixture's own failure shows its frames, not this wrapper's
    return (yield from _translating_failures(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    __tracebackhide__ = True
    yield from _translating_failures(item)
    ui = sys.modules.get("pytest_deploysmoke.ui")  # loaded only when a check used ui_page
    if ui is not None:
        ui.check_page(item)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    __tracebackhide__ = True
    result = yield
    if "playwright" not in sys.modules:  # every fixture passes here: stay cheap without a browser
        return result
    from pytest_deploysmoke import ui

    if fixturedef.argname == "browser_type_launch_args" and isinstance(result, dict):
        settings = _settings(request.config)
        if settings is not None:
            ui.add_browser_path(request.config, result, settings.browser_path)
    elif type(result).__name__ == "Runner" and type(result).__module__ in ui.RUNNER_MODULES:
        ui.share_thread_with_playwright(result)  # pytest-asyncio's runner fixture
    return result


def _translating_failures(item: pytest.Item) -> Generator[None, None, None]:
    """The body of the setup and call wrappers: recognised library errors become one line."""
    __tracebackhide__ = True
    try:
        return (yield)
    except Exception as exc:
        if _settings(item.config) is None:
            raise
        from pytest_deploysmoke import failures

        failure = failures.translate(item, exc)
        if failure is None:
            raise
        raise failure from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if _settings(item.config) is not None:
        from pytest_deploysmoke import annotation, targets

        ui = sys.modules.get("pytest_deploysmoke.ui")
        if ui is not None:
            ui.attach_screenshot(item, report)
        if report.when == "call" and report.failed and call.excinfo is not None:
            annotation.note_rollback(item, report, call.excinfo.value)
        annotation.annotate(item, report, targets.get_redactor(item.config))
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _settings(config) is not None:
        from pytest_deploysmoke.reports import terminal

        terminal.write_summary(terminalreporter, config)
