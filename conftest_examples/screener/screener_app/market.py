"""Synthetic KRW market data: hourly candles, the indicators computed from them, and a live ticker feed.

Everything is computed here from a few fixed numbers, so the data is internally consistent:
the indicators come from the same candles the feed starts from, and the feed moves each price
by at most ``MAX_TICK_MOVE`` per tick, which is what the smoke suite's agreement check relies on.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True, slots=True)
class Market:
    """A KRW market as the exchange lists it, with the stand-in's base price and hourly drift."""

    code: str
    korean_name: str
    english_name: str
    base_price: float  # KRW
    drift: float  # mean relative change per hour: below 0 trends down (low RSI), above 0 up


MARKETS = (
    Market("KRW-BTC", "비트코인", "Bitcoin", 95_000_000.0, 0.002),
    Market("KRW-ETH", "이더리움", "Ethereum", 4_800_000.0, -0.0005),
    Market("KRW-XRP", "리플", "XRP", 3_100.0, -0.003),
    Market("KRW-SOL", "솔라나", "Solana", 250_000.0, 0.0025),
    Market("KRW-DOGE", "도지코인", "Dogecoin", 520.0, -0.004),
    Market("KRW-ADA", "에이다", "Cardano", 1_100.0, 0.0),
    Market("KRW-AVAX", "아발란체", "Avalanche", 52_000.0, -0.002),
    Market("KRW-DOT", "폴카닷", "Polkadot", 10_500.0, 0.0035),
    Market("KRW-LINK", "체인링크", "Chainlink", 27_000.0, -0.001),
    Market("KRW-TRX", "트론", "TRON", 330.0, 0.004),
    Market("KRW-SHIB", "시바이누", "Shiba Inu", 0.035, -0.0045),
    Market("KRW-BCH", "비트코인캐시", "Bitcoin Cash", 700_000.0, 0.0005),
)
HOUR_MS = 3_600_000
HISTORY_HOURS = 48  # closed hourly candles behind every indicator
RSI_PERIOD = 14
SMA_PERIOD = 20
NOISE = 0.012  # the largest hourly move besides the drift
#: The feed publishes a tick this often, and moves each price by at most MAX_TICK_MOVE (relative) per tick:
#: 0.04 % per 0.25 s, so under 0.2 % a second.
TICK_SECONDS = 0.25
MAX_TICK_MOVE = 0.0004
INDICATORS = ("rsi_14", "sma_20", "change_24h", "close")


def now_ms() -> int:
    """The current time in milliseconds since the epoch."""
    return int(time.time() * 1000)


def _noise(code: str, hour: int) -> float:
    """A fixed pseudo-random number in [-1, 1] for this market and hour."""
    return (zlib.crc32(f"{code}:{hour}".encode()) % 20_001) / 10_000 - 1


def hourly_closes(market: Market, last_hour: int, count: int = HISTORY_HOURS) -> list[float]:
    """The closes of the *count* hourly candles up to the one that opened at hour *last_hour*."""
    price = market.base_price
    closes = []
    for hour in range(last_hour - count + 1, last_hour + 1):
        price *= 1 + market.drift + NOISE * _noise(market.code, hour)
        closes.append(price)
    return closes


def rsi(closes: list[float], period: int = RSI_PERIOD) -> float:
    """Wilder's relative strength index of *closes* (0 to 100)."""
    changes = [later - earlier for earlier, later in itertools.pairwise(closes)]
    gain = sum(max(c, 0.0) for c in changes[:period]) / period
    loss = sum(max(-c, 0.0) for c in changes[:period]) / period
    for change in changes[period:]:
        gain = (gain * (period - 1) + max(change, 0.0)) / period
        loss = (loss * (period - 1) + max(-change, 0.0)) / period
    if loss == 0:
        return 100.0
    return 100 - 100 / (1 + gain / loss)


def last_closed_hour(at_ms: int) -> int:
    """The hour index (hours since the epoch) of the last candle closed at *at_ms*."""
    return at_ms // HOUR_MS - 1


def indicator_snapshot(at_ms: int) -> dict[str, Any]:
    """Every market's indicators from its closed hourly candles, as the screener serves them."""
    hour = last_closed_hour(at_ms)
    indicators = {}
    for market in MARKETS:
        closes = hourly_closes(market, hour)
        indicators[market.code] = {
            "rsi_14": round(rsi(closes), 2),
            "sma_20": _round_price(sum(closes[-SMA_PERIOD:]) / SMA_PERIOD),
            "change_24h": round((closes[-1] / closes[-25] - 1) * 100, 2),
            "close": _round_price(closes[-1]),
        }
    return {
        "as_of": _iso(at_ms),
        "candles_to": _iso((hour + 1) * HOUR_MS),
        "interval": "1h",
        "indicators": indicators,
    }


def _round_price(price: float) -> float:
    return float(f"{price:.8g}")


def _iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


@dataclass(slots=True)
class TickerFeed:
    """Live prices: a bounded random walk from each market's last hourly close, one step per tick."""

    seq: int = 0
    timestamp: int = field(default_factory=now_ms)
    prices: dict[str, float] = field(default_factory=dict)
    day_open: dict[str, float] = field(default_factory=dict)
    _random: random.Random = field(default_factory=lambda: random.Random(20_260_101))
    _tick: asyncio.Event | None = None

    def __post_init__(self) -> None:
        hour = last_closed_hour(self.timestamp)
        for market in MARKETS:
            closes = hourly_closes(market, hour, 25)
            self.prices[market.code] = closes[-1]
            self.day_open[market.code] = closes[0]

    def step(self) -> None:
        """Move every price by at most MAX_TICK_MOVE, stamp the tick and wake the waiting streams."""
        for code, price in self.prices.items():
            self.prices[code] = price * (1 + self._random.uniform(-MAX_TICK_MOVE, MAX_TICK_MOVE))
        self.seq += 1
        self.timestamp = now_ms()
        if self._tick is not None:
            self._tick.set()
        self._tick = asyncio.Event()

    async def next_tick(self) -> None:
        """Wait for the next step."""
        if self._tick is None:
            self._tick = asyncio.Event()
        await self._tick.wait()

    async def run(self) -> None:
        """Step forever, TICK_SECONDS apart (never closer: each sleep starts after the step)."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self.step()

    def snapshot(self) -> dict[str, Any]:
        """The current tick: every market's price, its change since 24 h ago and the tick's time."""
        tickers = [
            {
                "market": code,
                "trade_price": price,
                "signed_change_rate": round(price / self.day_open[code] - 1, 6),
                "timestamp": self.timestamp,
            }
            for code, price in self.prices.items()
        ]
        return {"seq": self.seq, "timestamp": self.timestamp, "tickers": tickers}


def market_list() -> list[dict[str, str]]:
    """The KRW markets, shaped like the exchange's market list."""
    return [
        {"market": m.code, "korean_name": m.korean_name, "english_name": m.english_name, "quote": "KRW"}
        for m in MARKETS
    ]


def is_finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
