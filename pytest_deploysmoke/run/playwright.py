"""pytest-playwright integration: hooks registered only when pytest-playwright is active and a target is selected.

A run without pytest-playwright, or without a target, never loads this module: no other
plugin's fixture is looked at, and pytest-asyncio's runner is left as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import Any

import pytest

from pytest_deploysmoke.config.settings import RunSettings
from pytest_deploysmoke.run import plugins


class PlaywrightHooks:
    """Points pytest-playwright at the target's Chromium and base URL, and checks what each page did."""

    def __init__(self, config: pytest.Config, settings: RunSettings) -> None:
        self.config = config
        self.settings = settings

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, Any]:
        __tracebackhide__ = True
        result = yield
        if fixturedef.argname == "browser_type_launch_args" and isinstance(result, dict):
            from pytest_deploysmoke.clients import browser

            browser.add_browser_path(self.config, result, self.settings.target.ui.browser_path)
        elif type(result).__name__ == "Runner":
            from pytest_deploysmoke.clients import browser

            if type(result).__module__ in browser.RUNNER_MODULES:
                browser.share_thread_with_playwright(result)  # pytest-asyncio's runner fixture
        return result

    # Inner to the deploy session's wrappers (trylast): a page's errors fail the call before the
    # session translates failures, and the screenshot is on the report before the session redacts it.
    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        __tracebackhide__ = True
        yield
        browser = sys.modules.get("pytest_deploysmoke.clients.browser")  # loaded once a check used ui_page
        if browser is not None:
            browser.check_page(item)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_makereport(self, item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        browser = sys.modules.get("pytest_deploysmoke.clients.browser")
        if browser is not None:
            browser.attach_screenshot(item, report)
        return report


def register(config: pytest.Config, settings: RunSettings, user_base_url: str | None) -> None:
    """When pytest-playwright is active: register its hooks and give it the target's base URL."""
    if not config.pluginmanager.has_plugin("playwright"):
        return
    from pytest_deploysmoke.clients import browser

    browser.feed_base_url(config, settings.target, user_base_url)
    plugins.register(config, PlaywrightHooks(config, settings), "deploysmoke-playwright")
