"""tests/unit is the fast loop: pure logic, no network.  A test here that opens a connection fails."""

from __future__ import annotations

import socket
from typing import NoReturn

import pytest


def _no_network(*args: object, **kwargs: object) -> NoReturn:
    # pytest.fail raises an OutcomeException (a BaseException), so no `except OSError` in the code under test hides it.
    pytest.fail(
        "tests/unit opens no connection and resolves no name: "
        f"move this test to tests/plugin, or give the code what it would have fetched (called with {args!r})",
        pytrace=False,
    )


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every unit test runs with socket connects and name lookups refused."""
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", _no_network)
    for lookup in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "create_connection"):
        monkeypatch.setattr(socket, lookup, _no_network)
