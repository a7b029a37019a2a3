"""The backtest itself, pure: daily prices, a moving-average crossover strategy, and its performance."""

from __future__ import annotations

import itertools
import math
import random
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

FAST, SLOW = 5, 20  # moving-average windows, in trading days
TRADING_DAYS_PER_YEAR = 252
STEPS = 10  # progress moves in tenths


@dataclass(frozen=True, slots=True)
class Request:
    """What a backtest runs on: stocks, a date range and the starting capital."""

    symbols: tuple[str, ...]
    start_date: date
    end_date: date
    initial_capital: float = 100_000.0


def trading_days(start: date, end: date) -> list[date]:
    """Weekdays from *start* to *end*, both included."""
    days = (start + timedelta(days=offset) for offset in range((end - start).days + 1))
    return [day for day in days if day.weekday() < 5]


def prices(symbol: str, days: Sequence[date]) -> list[float]:
    """Daily closes of *symbol*: a random walk seeded by the symbol, so every run sees the same market."""
    rng = random.Random(zlib.crc32(symbol.encode()))
    price = 50 + rng.random() * 250
    closes = []
    for _ in days:
        price *= math.exp(rng.gauss(0.0004, 0.02))
        closes.append(round(price, 2))
    return closes


@dataclass(slots=True)
class Position:
    """One symbol's share of the capital: cash, or shares bought at ``entry``."""

    cash: float
    shares: float = 0.0
    entry: float = 0.0
    closes: list[float] = field(default_factory=list)

    def value(self, price: float) -> float:
        return self.cash + self.shares * price


@dataclass(slots=True)
class Backtest:
    """A crossover strategy per symbol (long while the fast average is above the slow one), run in steps."""

    request: Request
    equity: list[float] = field(default_factory=list)
    wins: int = 0
    trades: int = 0

    def run(self) -> Iterator[int]:
        """Run the backtest, yielding the percentage done after each tenth of the days."""
        days = trading_days(self.request.start_date, self.request.end_date)
        series = {symbol: prices(symbol, days) for symbol in self.request.symbols}
        share = self.request.initial_capital / len(self.request.symbols)
        positions = {symbol: Position(cash=share) for symbol in self.request.symbols}
        bounds = [round(len(days) * step / STEPS) for step in range(STEPS + 1)]
        for step in range(STEPS):
            for index in range(bounds[step], bounds[step + 1]):
                for symbol, position in positions.items():
                    self.trade(position, series[symbol][index])
                self.equity.append(sum(p.value(series[s][index]) for s, p in positions.items()))
            yield (step + 1) * 100 // STEPS
        for symbol, position in positions.items():  # close what is still open at the last price
            if position.shares:
                self.sell(position, series[symbol][-1])

    def trade(self, position: Position, price: float) -> None:
        position.closes.append(price)
        if len(position.closes) < SLOW:
            return
        fast = sum(position.closes[-FAST:]) / FAST
        slow = sum(position.closes[-SLOW:]) / SLOW
        if fast > slow and not position.shares:
            position.shares, position.entry, position.cash = position.cash / price, price, 0.0
        elif fast < slow and position.shares:
            self.sell(position, price)

    def sell(self, position: Position, price: float) -> None:
        position.cash, position.shares = position.shares * price, 0.0
        self.trades += 1
        self.wins += price > position.entry

    def performance(self) -> dict[str, Any]:
        """Total return, Sharpe ratio, max drawdown (a negative fraction), trades and win rate."""
        start = self.request.initial_capital
        equity = [start, *self.equity]
        returns = [later / earlier - 1 for earlier, later in itertools.pairwise(equity)]
        mean = sum(returns) / len(returns) if returns else 0.0
        spread = math.sqrt(sum((r - mean) ** 2 for r in returns) / len(returns)) if returns else 0.0
        peak, drawdown = start, 0.0
        for value in equity:
            peak = max(peak, value)
            drawdown = min(drawdown, value / peak - 1)
        return {
            "total_return": round(equity[-1] / start - 1, 4),
            "sharpe_ratio": round(mean / spread * math.sqrt(TRADING_DAYS_PER_YEAR), 2) if spread else 0.0,
            "max_drawdown": round(drawdown, 4),
            "total_trades": self.trades,
            "win_rate": round(self.wins / self.trades, 4) if self.trades else 0.0,
        }
