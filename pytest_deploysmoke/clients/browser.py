"""Browser checks: what a page did wrong (console errors, failed requests, guarded writes), screens that
render, the trace context of the page's requests to the target, and screenshots for the reports.

Playwright is imported only by the functions that drive a page, and only when a check asks for
``ui_page``: a run without browser checks never loads it.
"""

from __future__ import annotations

import base64
import json
import re
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from pytest_deploysmoke.clients import tracecontext
from pytest_deploysmoke.errors import BudgetExceeded, GuardError, UiError
from pytest_deploysmoke.guard import ProductionGuard, get_decision, get_guard
from pytest_deploysmoke.perf.budgets import Budget, Duration, parse_duration
from pytest_deploysmoke.phases import budget_of
from pytest_deploysmoke.results.records import CallKind, CallRecord, record
from pytest_deploysmoke.results.wire import SCREENSHOT_PROPERTY

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page, Request, Response, Route

    from pytest_deploysmoke.clients.login import Credentials
    from pytest_deploysmoke.config.model import Target
    from pytest_deploysmoke.config.redaction import Redactor

#: How many of a page's problems a failure lists before "+N more".
SHOWN_PROBLEMS = 5
#: The page's own calls: problems of these are the page's; an image or font that fails is not reported.
API_RESOURCES = frozenset({"xhr", "fetch"})
#: Chromium's console line for any failed load; the failed call itself is reported instead.
_FAILED_LOAD = "Failed to load resource"

#: Where asyncio.Runner lives: the standard library, or its backport on Python 3.10.
RUNNER_MODULES = frozenset({"asyncio.runners", "backports.asyncio.runner.runner", "backports.asyncio.runner"})

page_watch_key = pytest.StashKey["PageWatch"]()
#: The watch of each page a check opened with ui_page, so that expect_renders(page, ...) finds it.
_watches: weakref.WeakKeyDictionary[Any, PageWatch] = weakref.WeakKeyDictionary()


@dataclass(eq=False)
class PageWatch:
    """Listens to one page for the length of one check and keeps what went wrong on it."""

    page: Page
    item: pytest.Item
    target: Target
    redactor: Redactor
    guard: ProductionGuard
    problems: list[str] = field(default_factory=list)
    origin: str = ""
    #: The check's trace: every request of the page to the target carries it in its ``traceparent``.
    trace_id: str = ""
    _blocked: list[Request] = field(default_factory=list)  # aborted by the guard: reported once, as blocked

    def __post_init__(self) -> None:
        self.origin = origin_of(self.target.base_url)
        self.trace_id = tracecontext.check_trace_id(self.item)
        self.page.on("console", self._console)
        self.page.on("pageerror", self._page_error)
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._request_failed)
        # Routes run in the reverse order of their registration: this one last, once the guard let a request through.
        self.page.route(self.ours, self._traced)
        decision = get_decision(self.item)
        if decision is not None and not decision.may_write:  # a check that may write pays nothing for guarding
            self.page.route("**/*", self._guarded)

    def ours(self, url: str) -> bool:
        """Whether *url* is on the target (the page's own API), not a third party."""
        return url == self.origin or url.startswith(self.origin + "/")

    def shown(self, url: str) -> str:
        """*url* as a failure shows it: a path on the target, else the full URL."""
        return url[len(self.origin) :] or "/" if self.ours(url) else url

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error" or message.text.startswith(_FAILED_LOAD):
            return
        where = message.location.get("url") or ""
        line = message.location.get("lineNumber")
        at = f" ({self.shown(where)}:{line})" if where else ""
        self.problems.append(f"console error: {_one_line(message.text)}{at}")

    def _page_error(self, error: Any) -> None:
        name = getattr(error, "name", "") or "Error"
        self.problems.append(f"uncaught {name}: {_one_line(getattr(error, 'message', str(error)))}")

    def _response(self, response: Response) -> None:
        request = response.request
        resource = request.resource_type
        # The page's own API calls, and a page it navigates to (a link or a button that lands on a 404).
        counted = resource in API_RESOURCES or (resource == "document" and request.frame == self.page.main_frame)
        if response.status >= 400 and counted and self.ours(response.url):
            self.problems.append(f"{request.method} {self.shown(response.url)} answered {response.status} ({resource})")

    def _request_failed(self, request: Request) -> None:
        if any(request is blocked for blocked in self._blocked):
            return  # our own guard's abort, reported by _guarded
        failure = request.failure or "failed"
        if request.resource_type in API_RESOURCES and self.ours(request.url):
            self.problems.append(
                f"{request.method} {self.shown(request.url)} failed: {failure} ({request.resource_type})"
            )

    def _guarded(self, route: Route) -> None:
        request = route.request
        path = urlsplit(request.url).path if self.ours(request.url) else None
        if not self.guard.request_writes(request.method, path):
            route.fallback()
            return
        action = f"{request.method} {self.shown(request.url)}"
        try:
            self.guard.check_write("http", action, named=f"the page's {action}", item=self.item)
        except GuardError as exc:  # raised in Playwright's event handler: the check fails on it afterwards
            self.problems.append(str(exc))
            self._blocked.append(request)
            route.abort("blockedbyclient")
            return
        route.fallback()

    def _traced(self, route: Route) -> None:
        """Send a request of the page to the target with a ``traceparent`` in the check's trace (a new span
        each), unless the page set its own."""
        headers = route.request.headers
        if tracecontext.TRACEPARENT in headers:  # Playwright gives the names in lower case
            route.fallback()
            return
        route.fallback(headers={**headers, tracecontext.TRACEPARENT: tracecontext.traceparent(self.trace_id)})

    def record(
        self,
        kind: CallKind,
        action: str,
        outcome: str,
        *,
        ok: bool,
        ms: float,
        budget: Budget | None = None,
        trace_id: str = "",
    ) -> None:
        """Record a browser step on the check (*trace_id*: a navigation's, which carried the check's trace)."""
        record(
            self.item.config,
            CallRecord.budgeted(kind, action, outcome, ok=ok, ms=ms, budget=budget, trace_id=trace_id),
        )

    def settle(self) -> None:
        """Take in the events the browser sent so far: Playwright delivers them only during a call, in
        order, so one round trip brings every console error and failed call that came before it."""
        try:
            if not self.page.is_closed():
                self.page.evaluate("0")
        except Exception:  # a page that crashed or navigated away has nothing more to say
            pass

    def listing(self) -> str | None:
        """``2 problems on the page: console error: ...; GET /api/x answered 500 (fetch)``, or None."""
        if not self.problems:
            return None
        listed = "; ".join(self.problems[:SHOWN_PROBLEMS])
        more = f"; +{len(self.problems) - SHOWN_PROBLEMS} more" if len(self.problems) > SHOWN_PROBLEMS else ""
        count = f"{len(self.problems)} problem{'s' if len(self.problems) > 1 else ''}"
        return self.redactor.redact(f"{count} on the page: {listed}{more}")

    def screenshot(self) -> bytes | str:
        """A PNG of the page as it is, password fields masked; or why none was taken."""
        try:
            if self.page.is_closed():
                return "the page was closed"
            if self.redactor.shows_secret(self.page.content()):
                return "withheld: the page shows a secret"
            return self.page.screenshot(mask=[self.page.locator("input[type=password]")], timeout=10_000)
        except Exception as exc:  # a crashed page or browser still lets the check report
            return f"not taken: {_one_line(str(exc))}"


def feed_base_url(config: pytest.Config, target: Target, user_base_url: str | None) -> None:
    """Point pytest-base-url's (or pytest-playwright's) ``base_url`` at the target, unless the user gave one.

    ``--base-url`` and ``$PYTEST_BASE_URL`` win; an ini ``base_url`` does not, since the deploy target
    was chosen on this command line.  Without either plugin there is no such option, and nothing changes.
    A user name and password in the target's base_url are left out (give the browser those through
    pytest-playwright's ``browser_context_args`` fixture, ``http_credentials``).
    """
    if user_base_url is None and hasattr(config.option, "base_url"):
        # pytest-base-url prints it in the header: never with the credentials a base_url may carry.
        config.option.base_url = without_credentials(target.base_url)


def without_credentials(url: str) -> str:
    """*url* without the user name and password it may carry."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def origin_of(url: str) -> str:
    """``https://host:8443`` of *url*, as a browser's ``location.origin`` has it: without a user or password."""
    parts = urlsplit(without_credentials(url))
    return f"{parts.scheme}://{parts.netloc}"


def add_browser_path(config: pytest.Config, launch_args: dict[str, Any], browser_path: str | None) -> None:
    """Give Playwright's Chromium launch the configured executable (``--deploy-browser-path``, ``[ui] browser_path``).

    A path the user put in ``browser_type_launch_args`` themselves, or a ``--browser-channel``, wins;
    so does a browser other than Chromium.
    """
    if not browser_path or "executable_path" in launch_args or "channel" in launch_args:
        return
    browsers = config.getoption("browser", None) or ["chromium"]
    if any(name != "chromium" for name in browsers):
        return
    path = Path(browser_path)
    if not path.is_file():
        raise UiError(
            f"the browser path {browser_path} does not exist; install Debian's chromium (apt-get install chromium) "
            "or point --deploy-browser-path / [ui] browser_path at a Chromium"
        )
    launch_args["executable_path"] = str(path)


def share_thread_with_playwright(runner: Any) -> None:
    """Let a pytest-asyncio runner run its loop on a thread where Playwright's sync API is active.

    Playwright's sync API keeps its own event loop marked as running on the calling thread for
    as long as it is started (its loop is suspended in a greenlet between calls), so once a
    browser check has started it, every later ``asyncio.Runner.run`` refuses to start:
    "cannot be called from a running event loop".  Around the runner's ``run`` and ``close``,
    this hides Playwright's suspended loop and puts it back afterwards.  A browser check itself
    stays a plain ``def``: ui_page refuses an ``async def`` check.
    """
    for name in ("run", "close"):
        method = getattr(runner, name, None)
        if callable(method) and not getattr(method, "_deploysmoke_shared", False):
            setattr(runner, name, _hiding_suspended_loop(method))


def _hiding_suspended_loop(method: Callable[..., Any]) -> Callable[..., Any]:
    import asyncio

    def call(*args: Any, **kwargs: Any) -> Any:
        held = asyncio._get_running_loop()
        if held is None:
            return method(*args, **kwargs)
        asyncio._set_running_loop(None)
        try:
            return method(*args, **kwargs)
        finally:
            asyncio._set_running_loop(held)

    call._deploysmoke_shared = True  # type: ignore[attr-defined]  # a marker, so a runner is wrapped once
    return call


def watch_page(item: pytest.Item, page: Page, target: Target, redactor: Redactor) -> PageWatch:
    """Start watching *page* for *item*: its timeouts become the target's, its problems are kept."""
    page.set_default_timeout(target.timeout * 1000)
    page.set_default_navigation_timeout(target.timeout * 1000)
    watch = PageWatch(page, item, target, redactor, get_guard(item.config))
    item.stash[page_watch_key] = _watches[page] = watch
    return watch


def put_credentials(page: Page, target: Target, credentials: Credentials) -> None:
    """Log the page in with the run's login: a session's cookies, or the token where the app keeps it."""
    if credentials.cookies:
        page.context.add_cookies(
            [{"name": cookie.name, "value": cookie.value, "url": target.base_url} for cookie in credentials.cookies]
        )
        return
    if credentials.token is None:
        raise UiError(
            f"authed_ui_page: target '{target.name}' logs in with HTTP Basic, which cannot be handed to a page; "
            "give pytest-playwright's browser_context_args http_credentials instead"
        )
    put_token(page, target, credentials.token)


def put_token(page: Page, target: Target, token: str) -> None:
    """Hand the auth token to the page the way the target's app keeps it (``[ui] token_storage``)."""
    storage = target.ui.token_storage
    if storage is None:
        raise UiError(
            f"authed_ui_page: target '{target.name}' has no [ui] token_storage; say where the app keeps its token, "
            'e.g. token_storage = "localStorage:token" or "cookie:session"'
        )
    kind, _, key = storage.partition(":")
    if kind == "cookie":
        page.context.add_cookies([{"name": key, "value": token, "url": target.base_url}])
        return
    origin = json.dumps(origin_of(target.base_url))
    # Only on the target's own origin: a third-party frame never sees the token.
    page.context.add_init_script(
        f"if (location.origin === {origin}) {{ try {{ window.{kind}.setItem({json.dumps(key)}, {json.dumps(token)}); }}"
        " catch (e) {} }"
    )


def expect_renders(
    page: Page,
    selector: str,
    *,
    path: str | None = None,
    url: str | re.Pattern[str] | None = None,
    within: Duration | None = None,
    budget: Duration | tuple[Duration, Duration] | None = None,
) -> None:
    """Check that a screen renders: open *path* (or stay on the page), the URL is reached, *selector*
    is visible within *within*, and the page logged no error.

    ``url`` is what the page's URL must come to match (a glob like ``"**/home#chart"`` or a
    compiled regex), waited for like the selector; with *path* alone, the page must have stayed
    at that path.  The wait ends early, failing, as soon as the page logs an error or an API call
    fails.  The time to the visible selector is recorded as ``render PATH SELECTOR`` and held to
    *budget* (also the check's ``budget`` mark).
    """
    __tracebackhide__ = True
    watch = _watches.get(page)
    if watch is None:
        raise UiError("expect_renders() takes a page from the ui_page or authed_ui_page fixture")
    where = path or _path_of(page.url)
    limit = parse_duration(within) if within is not None else watch.target.timeout
    started = time.perf_counter()
    if path is not None:
        response = page.goto(path)
        opened = (time.perf_counter() - started) * 1000
        status = response.status if response is not None else 0
        watch.record("ui", f"open {path}", str(status or "ok"), ok=status < 400, ms=opened, trace_id=watch.trace_id)
        if status >= 400:
            raise UiError(f"UI {path}: the page answered {status}; is the screen deployed at that path?")
        if url is None and not _url_matches(page.url, path):
            raise UiError(
                f"UI {where}: expected to reach {path}, but the page is at {page.url}; a redirect (to a login?)"
            )
    missing = _wait_until_rendered(watch, selector, url, started + limit)
    rendered = time.perf_counter() - started
    action = f"render {where} {selector}"
    if missing is not None:
        watch.record("ui", action, "not visible", ok=False, ms=rendered * 1000)
        problems = watch.listing()
        when = f"after {rendered:.1f} s" if problems else f"within {limit:.1f} s"
        if missing == "url":
            what = f"expected to reach {_shown(url)}, but the page is at {page.url} {when}"
        elif missing == "selector":
            what = f"{selector} not visible {when}"
        else:
            what = f"{selector}: {missing}"
        raise UiError(f"UI {where}: {what}" + (f"; {problems}" if problems else ""))
    chosen = Budget.of(budget) if budget is not None else budget_of(watch.item)
    watch.record("ui", action, "visible", ok=True, ms=rendered * 1000, budget=chosen)
    if chosen is not None and (overrun := chosen.overrun(f"UI {action}", rendered)):
        raise BudgetExceeded(overrun)
    watch.settle()
    if problems := watch.listing():
        raise UiError(f"UI {where}: {problems}")


#: How long expect_renders waits at a time before it looks at the page's problems again.
_SLICE_S = 0.1
#: How long it lets related problems arrive (the console error after a failed call) before failing.
_GRACE_S = 0.3


def _wait_until_rendered(
    watch: PageWatch, selector: str, url: str | re.Pattern[str] | None, deadline: float
) -> str | None:
    """Wait for *url* and a visible *selector* until *deadline* (``perf_counter``).

    Returns None when both came; else what did not, ``"url"`` or ``"selector"`` (or Playwright's
    reason, for a selector it cannot use).  A problem on the page ends the wait at once.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page, locator = watch.page, watch.page.locator(selector).first
    while True:
        slice_ms = max(1.0, min(_SLICE_S, deadline - time.perf_counter()) * 1000)
        reached = url is None or _url_matches(page.url, url)
        if reached:
            try:
                locator.wait_for(state="visible", timeout=slice_ms)
                return None
            except PlaywrightTimeout:
                pass
            except PlaywrightError as exc:  # not a wait that ran out: an invalid selector, a closed page
                return _one_line(str(exc))
        else:
            page.wait_for_timeout(slice_ms)
        if watch.problems:
            page.wait_for_timeout(_GRACE_S * 1000)
            if reached and locator.is_visible():  # it rendered after all; the problems still fail the check
                return None
            return "selector" if reached else "url"
        if time.perf_counter() >= deadline:
            return "selector" if reached else "url"


def _url_matches(actual: str, expected: str | re.Pattern[str]) -> bool:
    """A path (``/home``) matches the URL's path; a glob (``**/home#chart``) or a regex the whole URL."""
    if isinstance(expected, re.Pattern):
        return expected.search(actual) is not None
    if expected.startswith("/") and "*" not in expected:
        return _path_of(actual) == expected.split("?", 1)[0].split("#", 1)[0]
    from fnmatch import fnmatchcase

    return fnmatchcase(actual, expected.replace("**", "*"))


def _shown(expected: str | re.Pattern[str] | None) -> str:
    return expected.pattern if isinstance(expected, re.Pattern) else str(expected)


def _path_of(url: str) -> str:
    return urlsplit(url).path or "/"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def check_page(item: pytest.Item) -> None:
    """After a check's body passed: fail it when its page logged errors the check did not look at."""
    __tracebackhide__ = True
    watch = item.stash.get(page_watch_key, None)
    if watch is None:
        return
    watch.settle()
    if problems := watch.listing():
        from pytest_deploysmoke.errors import unchecked

        raise unchecked(f"UI {_path_of(watch.page.url)}: {problems}")


def attach_screenshot(item: pytest.Item, report: pytest.TestReport) -> None:
    """Put the check's screenshot on its report: a pytest-html extra, and a file next to the ticket."""
    watch = item.stash.get(page_watch_key, None)
    if watch is None or (report.when != "call" and not (report.when == "setup" and report.failed)):
        return
    mode = watch.target.ui.screenshots
    if mode == "off" or (mode == "on-failure" and not report.failed):
        return
    shot = watch.screenshot()
    if isinstance(shot, str):
        report.sections.append(("deploysmoke screenshot", shot))
        return
    encoded = base64.b64encode(shot).decode("ascii")
    try:
        from pytest_html import extras as html_extras  # type: ignore[import-untyped]  # pytest-html ships no types
    except ImportError:
        html_extras = None
    if html_extras is not None:
        report.extras = [*getattr(report, "extras", []), html_extras.png(encoded, name="screenshot")]  # type: ignore[attr-defined]  # pytest-html's report attribute
    ticket = item.config.option.deploysmoke_ticket
    if ticket:
        folder = Path(ticket).parent / f"{Path(ticket).stem}-screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid).strip("_")[:150] + ".png"
        (folder / name).write_bytes(shot)
        report.user_properties.append((SCREENSHOT_PROPERTY, f"{folder.name}/{name}"))
