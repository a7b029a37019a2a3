"""screener: a stand-in of a coin market screener backed by Redis caches, for the pytest-deploysmoke example."""

from __future__ import annotations
