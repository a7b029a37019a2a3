"""UI: the web app's screens open in a browser, fill from the API and log no error (landing, login, home tabs).

Each check runs in headless Chromium (``[ui] browser_path``).  A console error, an uncaught exception
or an API call of the page answered 4xx/5xx fails the check, listed in one line, and a screenshot of
the screen goes into the HTML report and next to the ticket.  The tab checks start logged in:
``authed_ui_page`` puts the smoke account's token where the app keeps it (``[ui] token_storage``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from pytest_deploysmoke import Target, expect_renders

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.phase("ui")

#: The checklist's screen times: a screen within 1 s, and never over 3 s; a tab of an open screen within 2 s.
SCREEN = ("1s", "3s")
TAB = ("1s", "2s")
#: Home waits on the trades summary, whose own budget is 1 s: a slow summary warns here, the features check fails.
HOME_SCREEN = ("1s", "5s")
CHART_CANDLES = 30  # the chart tab draws BTCUSDT's last 30 daily candles


def open_tab(page: Page, name: str) -> None:
    """Open /home and click the tab called *name*, as a user does."""
    page.goto("/home")
    page.get_by_role("tab", name=name).click()


def test_landing_page_loads(ui_page: Page) -> None:
    """The landing page loads and links to the login (GET /)."""
    expect_renders(ui_page, "#login-link", path="/", budget=SCREEN)
    assert ui_page.get_attribute("#login-link", "href") == "/login"


def test_login_page_shows_its_form(ui_page: Page) -> None:
    """The login page shows its form: email, a masked password field and the Log in button (GET /login)."""
    expect_renders(ui_page, "#login-form", path="/login", budget=SCREEN)
    assert ui_page.get_attribute("#email", "type") == "email"
    assert ui_page.get_attribute("#password", "type") == "password", "the password field is not masked"
    assert ui_page.get_by_role("button", name="Log in").is_enabled()


@pytest.mark.destructive  # the form POSTs a login (and counts against its rate limit): not on production
def test_smoke_account_logs_in_through_the_form(ui_page: Page, deploy_target: Target) -> None:
    """The smoke account logs in through the login form and lands on home with its summary cards."""
    auth = deploy_target.auth
    assert auth is not None and auth.username and auth.password, f"target '{deploy_target.name}' has no [auth] login"
    ui_page.goto("/login")
    ui_page.fill("#email", auth.username)
    ui_page.fill("#password", auth.password.reveal())  # a type=password field: masked on screen and in the screenshot
    ui_page.get_by_role("button", name="Log in").click()
    expect_renders(ui_page, "#panel-home .card", budget=HOME_SCREEN)
    assert urlsplit(ui_page.url).path == "/home", f"the login ended at {ui_page.url}, not /home"


def test_home_tab_shows_the_summary_cards(authed_ui_page: Page) -> None:
    """Home shows the trades, win rate and PnL cards (GET /api/v1/trades/summary)."""
    expect_renders(authed_ui_page, "#panel-home .card", path="/home", budget=HOME_SCREEN)
    labels = [text.split("\n")[-1] for text in authed_ui_page.locator("#panel-home .card").all_inner_texts()]
    assert labels == ["Trades", "Win rate", "PnL (USDT)"], f"unexpected cards: {labels}"


def test_chart_tab_draws_the_btcusdt_chart(authed_ui_page: Page) -> None:
    """The chart tab draws the BTCUSDT daily chart (GET /api/v1/market/klines)."""
    open_tab(authed_ui_page, "Chart")
    expect_renders(authed_ui_page, "#chart-svg", url="**/home#chart", within=TAB[1], budget=TAB)
    candles = authed_ui_page.locator("#chart-svg .candle").count()
    assert candles == CHART_CANDLES, f"the chart has {candles} candles, expected {CHART_CANDLES}"


def test_review_tab_lists_the_chart_notes(authed_ui_page: Page) -> None:
    """The review tab lists the chart notes (GET /api/v1/bubbles)."""
    open_tab(authed_ui_page, "Review")
    expect_renders(authed_ui_page, "#review-list li", url="**/home#review", within=TAB[1], budget=TAB)


def test_portfolio_tab_shows_the_positions(authed_ui_page: Page) -> None:
    """The portfolio tab shows the positions per symbol (GET /api/v1/portfolio)."""
    open_tab(authed_ui_page, "Portfolio")
    expect_renders(authed_ui_page, "#portfolio-table tbody tr", url="**/home#portfolio", within=TAB[1], budget=TAB)
