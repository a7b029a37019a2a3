"""The public API: every name in __all__ resolves."""

from __future__ import annotations

import pytest_deploysmoke


def test_every_public_name_resolves() -> None:
    """Each name in pytest_deploysmoke.__all__ can be read from the package."""
    missing = [name for name in pytest_deploysmoke.__all__ if getattr(pytest_deploysmoke, name, None) is None]
    assert missing == []
