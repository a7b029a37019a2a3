"""Browser helper: an HTML report opened in Debian's headless Chromium through Playwright.

``report_page()`` launches Chromium, opens the report's file URL in a new context and yields the page;
the browser is closed however the block ends.  Playwright is imported only when a report is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

#: Debian's Chromium (``python3 tasks.py test`` installs it).
CHROMIUM = "/usr/bin/chromium"


def offline(requested: list[str]) -> Callable[[Route], None]:
    """A route handler that appends each request's URL to *requested* and refuses all but file: and data: URLs."""

    def handle(route: Route) -> None:
        requested.append(route.request.url)
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            route.abort()

    return handle


@contextmanager
def report_page(
    report: Path,
    *,
    javascript: bool = True,
    requested: list[str] | None = None,
    width: int = 1280,
    height: int = 720,
    timeout_ms: int = 10_000,
) -> Iterator[Page]:
    """Open *report* in headless Chromium and yield the page; close the browser however the block ends.

    The context has JavaScript on or off and a *width* x *height* viewport (Playwright's default size
    unless told).  Given a *requested* list, every request's URL is appended to it and anything but a
    ``file:`` or ``data:`` URL is refused.  *timeout_ms* is the page's default timeout.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = browser.new_context(java_script_enabled=javascript, viewport={"width": width, "height": height})
            if requested is not None:
                context.route("**/*", offline(requested))
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            page.goto(report.as_uri())
            yield page
        finally:
            browser.close()
