"""Live prices: the ticker WebSocket publishes soon after it opens, and keeps publishing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pytest_deploysmoke import WsConnect

pytestmark = [pytest.mark.phase("features"), pytest.mark.asyncio]

TICKERS_WS = "/ws/tickers?symbols=BTCUSDT"
FIRST_TICKER_WITHIN = 2.0  # seconds
#: How long the stream is read after its first ticker: a stream that closes (or falls silent)
#: right after its first message is a dead stream to every client, though it did publish once.
KEEPS_PUBLISHING_FOR = 1.5  # seconds; the feed ticks every 100 ms here, every second at most on a real exchange
MORE_TICKERS = 1  # at least this many tickers after the first, within KEEPS_PUBLISHING_FOR


def is_ticker(message: Any) -> bool:
    return isinstance(message, dict) and message.get("type") == "ticker"


def is_price(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


async def test_first_ticker_arrives_within_two_seconds(ws_connect: WsConnect) -> None:
    """Live BTCUSDT prices arrive within 2 s of opening the ticker stream and keep coming (WebSocket /ws/tickers).

    A close by the server while it is read fails with its close code (``closed by the server
    with code 1011 ... after 1 messages``); a stream that stops publishing fails with the count.
    """
    async with ws_connect(TICKERS_WS) as ws:
        tickers = [await ws.first(is_ticker, within=FIRST_TICKER_WITHIN)]
        until = time.monotonic() + KEEPS_PUBLISHING_FOR
        # The window's end is a wait_for timeout, so that a close inside it fails the check with its code.
        while (left := until - time.monotonic()) > 0:
            try:
                tickers.append(await asyncio.wait_for(ws.first(is_ticker, within=KEEPS_PUBLISHING_FOR), left))
            except asyncio.TimeoutError:
                break
    later = len(tickers) - 1
    assert later >= MORE_TICKERS, (
        f"WS {TICKERS_WS}: the stream went silent after its first ticker: {later} more in "
        f"{KEEPS_PUBLISHING_FOR:g} s, expected at least {MORE_TICKERS}; the server's logs say why"
    )
    wrong = [ticker for ticker in tickers if ticker.get("symbol") != "BTCUSDT" or not is_price(ticker.get("price"))]
    assert not wrong, f"WS {TICKERS_WS}: unexpected tickers: {wrong[:3]}"
