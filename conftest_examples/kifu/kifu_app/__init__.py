"""kifu: a stand-in of a crypto trading journal backend, for the pytest-deploysmoke example."""

from __future__ import annotations
