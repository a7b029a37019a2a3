"""backtest: a stand-in of a stock backtest service (API and python worker), for the pytest-deploysmoke example."""

from __future__ import annotations
