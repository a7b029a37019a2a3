"""Live prices: the ticker WebSocket publishes soon after it opens."""

from __future__ import annotations

import pytest

from pytest_deploysmoke import WsConnect

pytestmark = [pytest.mark.phase("features"), pytest.mark.asyncio]

FIRST_TICKER_WITHIN = 2.0  # seconds


async def test_first_ticker_arrives_within_two_seconds(ws_connect: WsConnect) -> None:
    """Live BTCUSDT prices arrive within 2 s of opening the ticker stream (WebSocket /ws/tickers)."""
    async with ws_connect("/ws/tickers?symbols=BTCUSDT") as ws:
        ticker = await ws.first(lambda message: message.get("type") == "ticker", within=FIRST_TICKER_WITHIN)
    assert ticker["symbol"] == "BTCUSDT" and ticker["price"] > 0, f"unexpected ticker: {ticker}"
