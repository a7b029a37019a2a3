"""pytest entry point: wiring only. Behaviour lives in the modules it calls.

Only light modules are imported here.  With no deploy target selected the plugin stays inert,
and the modules that read the config (TOML, URL parsing, difflib) are never imported: adding
the plugin to an ordinary project must not slow its test runs down.
"""

from __future__ import annotations

import pytest

from pytest_deploysmoke import options, phases

pytest_plugins = ["pytest_deploysmoke.fixtures"]


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_deploysmoke import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl(tryfirst=True, specname="pytest_configure")
def pytest_configure_remember_base_url(config: pytest.Config) -> None:
    """Read --base-url before pytest-base-url's own pytest_configure fills it from the ini file."""
    config.stash[options.user_base_url_key] = config.getoption("base_url", None)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not config.getoption("deploysmoke_show_config", False):
        return None
    from pytest_deploysmoke.config import show

    return show.show(config)


def pytest_configure(config: pytest.Config) -> None:
    for line in phases.MARKERS:
        config.addinivalue_line("markers", line)
    if not options.target_requested(config):
        return
    from pytest_deploysmoke import guard, reports
    from pytest_deploysmoke.config import settings as run_settings
    from pytest_deploysmoke.errors import ConfigError
    from pytest_deploysmoke.run import fixture_scope, gating, interruption, playwright, selection, session

    try:
        settings = run_settings.configure(config)
        if settings is None:
            return
        if not hasattr(config, "workerinput"):  # the reports come together on the controller
            reports.register_writers(config, settings)
            interruption.register(config)
        playwright.register(config, settings, config.stash.get(options.user_base_url_key, None))
    except ConfigError as exc:
        raise pytest.UsageError(run_settings.get_redactor(config).redact(str(exc))) from None
    guard.install(config, settings.target)
    session.register(config, settings)
    gating.register(config, settings)
    selection.register(config, settings.only_phases)
    fixture_scope.register(config)


def pytest_itemcollected(item: pytest.Item) -> None:
    phases.imply_smoke(item)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not options.target_requested(config):
        phases.skip_without_target(items)
