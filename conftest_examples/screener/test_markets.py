"""Markets: the KRW market list, and the screener's symbols among those markets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_deploysmoke import expect_json, expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http

pytestmark = pytest.mark.phase("features")

SYMBOLS = "/api/screener/symbols"


def is_symbol_list(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(symbol, str) for symbol in value)


def test_krw_markets_are_listed(krw_markets: set[str]) -> None:
    """GET /api/markets/krw lists the KRW markets, KRW-BTC and KRW-ETH among them."""
    assert {"KRW-BTC", "KRW-ETH"} <= krw_markets, f"GET /api/markets/krw lists {sorted(krw_markets)}"
    others = sorted(code for code in krw_markets if not code.startswith("KRW-"))
    assert not others, f"GET /api/markets/krw lists markets that are not KRW: {others}"


def test_screener_symbols_are_krw_markets(http: SmokeClient, krw_markets: set[str]) -> None:
    """GET /api/screener/symbols lists the screened symbols, every one of them a listed KRW market."""
    symbols = expect_json(expect_status(http.get(SYMBOLS), 200), {"symbols": is_symbol_list})["symbols"]
    unlisted = sorted(set(symbols) - krw_markets)
    assert not unlisted, f"GET {SYMBOLS} screens symbols that GET /api/markets/krw does not list: {unlisted}"
