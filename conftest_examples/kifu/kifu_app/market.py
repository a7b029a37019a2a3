"""Synthetic market data: prices that drift smoothly with time, shaped like Binance's klines."""

from __future__ import annotations

import math
import time
import zlib
from typing import Any

INTERVALS_MS = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}
BASE_PRICES = {"BTCUSDT": 67_000.0, "ETHUSDT": 3_500.0, "SOLUSDT": 150.0}
DAY_MS = 86_400_000


def now_ms() -> int:
    """The current time in milliseconds since the epoch."""
    return int(time.time() * 1000)


def price_at(symbol: str, t_ms: int) -> float:
    """The symbol's price at *t_ms*: the same symbol and time always give the same price."""
    base = BASE_PRICES.get(symbol, 1.0 + zlib.crc32(symbol.encode()) % 500)
    days = t_ms / DAY_MS
    return base * (1 + 0.04 * math.sin(days / 7 * math.tau) + 0.01 * math.sin(days * 3 * math.tau))


def klines(symbol: str, interval: str, limit: int, now: int) -> list[list[Any]]:
    """The last *limit* candles up to *now*, as Binance's 12-field kline arrays."""
    step = INTERVALS_MS[interval]
    first_open = (now // step - limit + 1) * step
    seed = zlib.crc32(symbol.encode())
    rows: list[list[Any]] = []
    for index in range(limit):
        open_time = first_open + index * step
        close_time = open_time + step - 1
        open_, close = price_at(symbol, open_time), price_at(symbol, min(close_time, now))
        high, low = max(open_, close) * 1.004, min(open_, close) * 0.996
        volume = 50 + (seed + open_time // step) % 950
        trades = int(volume * 37)
        rows.append(
            [
                open_time,
                f"{open_:.8f}",
                f"{high:.8f}",
                f"{low:.8f}",
                f"{close:.8f}",
                f"{volume:.8f}",
                close_time,
                f"{volume * close:.8f}",
                trades,
                f"{volume * 0.52:.8f}",
                f"{volume * 0.52 * close:.8f}",
                "0",
            ]
        )
    return rows
