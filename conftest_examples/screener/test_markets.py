"""Markets and tickers: the KRW market list, fresh ticker prices, and the polling fallback of the live stream."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke import Target, expect_json, expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http

pytestmark = pytest.mark.phase("features")

MARKETS = "/api/markets/krw"
TICKERS = "/api/markets/krw/tickers"
SYMBOLS = "/api/screener/symbols"
#: The tickers cache keeps a tick for up to 3 s; with a tick every 250 ms and some clock skew
#: between the runner and the service, a good deploy's tickers are never older than this.
FRESH_WITHIN_S = 5.0
#: How long the same tick may be served: the tickers cache's 3 s TTL, and 1.5 s to spare.
SAME_TICK_AT_MOST_S = 4.5


def is_krw_market(value: object) -> bool:
    return isinstance(value, str) and value.startswith("KRW-")


def is_price(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def is_ms_timestamp(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 1_600_000_000_000


def is_list(value: object) -> bool:
    return isinstance(value, list) and len(value) > 0


def market_codes(http: SmokeClient) -> set[str]:
    """The codes of the KRW markets the service lists."""
    markets = expect_json(expect_status(http.get(MARKETS), 200), is_list)
    return {market.get("market") for market in markets}


def is_ticker(value: Any) -> bool:
    """A ticker: a KRW market, its price and the time of that price in ms."""
    return (
        isinstance(value, dict)
        and is_krw_market(value.get("market"))
        and is_price(value.get("trade_price"))
        and is_ms_timestamp(value.get("timestamp"))
    )


def read_tickers(http: SmokeClient, deploy_target: Target) -> dict[str, Any]:
    """GET the tickers, each checked for shape."""
    # A data check's calls are held to the target's timeout only: a slow answer is the
    # performance checks' finding, not a data integrity failure.
    response = expect_status(http.get(TICKERS, budget=deploy_target.timeout), 200)
    body: dict[str, Any] = expect_json(response, {"tickers": is_list})
    return expect_json(response, {"tickers": [is_ticker] * len(body["tickers"])})


def test_krw_markets_are_listed(http: SmokeClient) -> None:
    """GET /api/markets/krw lists the KRW markets, KRW-BTC and KRW-ETH among them."""
    codes = market_codes(http)
    assert {"KRW-BTC", "KRW-ETH"} <= codes, f"GET {MARKETS} lists {sorted(codes)}, without KRW-BTC or KRW-ETH"
    assert all(is_krw_market(code) for code in codes), f"GET {MARKETS} lists markets that are not KRW: {codes}"


def test_screener_symbols_are_krw_markets(http: SmokeClient) -> None:
    """GET /api/screener/symbols lists the screened symbols, every one of them a listed KRW market."""
    symbols = expect_json(expect_status(http.get(SYMBOLS), 200), {"symbols": is_list})["symbols"]
    unlisted = sorted(set(symbols) - market_codes(http))
    assert not unlisted, f"GET {SYMBOLS} screens symbols that GET {MARKETS} does not list: {unlisted}"


@pytest.mark.rollback("data integrity")
def test_tickers_are_fresh(http: SmokeClient, deploy_target: Target) -> None:
    """Ticker data is fresh: tickers are under 5 s old, and a newer tick comes once the 3 s tickers cache expires."""
    first = read_tickers(http, deploy_target)
    now_ms = time.time() * 1000
    old = {t["market"]: (now_ms - t["timestamp"]) / 1000 for t in first["tickers"]}
    old = {market: age for market, age in old.items() if age > FRESH_WITHIN_S}
    assert not old, (
        f"GET {TICKERS} serves tickers older than {FRESH_WITHIN_S:g} s: "
        + ", ".join(f"{market} {age:.1f} s" for market, age in sorted(old.items()))
        + "; is the ticker feed stuck, or the runner's clock off?"
    )
    newest = max(t["timestamp"] for t in first["tickers"])
    started = time.monotonic()
    while time.monotonic() - started < SAME_TICK_AT_MOST_S:
        time.sleep(0.25)
        if max(t["timestamp"] for t in read_tickers(http, deploy_target)["tickers"]) > newest:
            return
    age = time.time() - newest / 1000
    pytest.fail(
        f"GET {TICKERS} served the same tick for {time.monotonic() - started:.1f} s (now {age:.1f} s old), "
        "past the tickers cache's 3 s TTL: prices are stale; is the tickers cache written without its TTL?",
        pytrace=False,
    )


def test_polling_fallback_serves_every_market(http: SmokeClient, deploy_target: Target) -> None:
    """Fallback: when the WebSocket is down, the polling endpoint GET /api/markets/krw/tickers serves every market.

    Clients poll it every second while /ws/tickers/krw is unreachable; it shares nothing with the
    stream but the feed, so it still serves when the stream does not (see the ws_refuse fault).
    """
    served = {ticker["market"] for ticker in read_tickers(http, deploy_target)["tickers"]}
    missing = sorted(market_codes(http) - served)
    assert not missing, f"GET {TICKERS} has no price for {', '.join(missing)}; clients polling it lose those markets"
