"""Network failures in words: describe_error on a real refused connection over loopback."""

from __future__ import annotations

import httpx
import pytest

from pytest_deploysmoke.clients.network import describe_error


def test_refused_loopback_connection_is_connection_refused(closed_port: int) -> None:
    """A real httpx request to a closed 127.0.0.1 port is described as 'connection refused'."""
    with pytest.raises(httpx.ConnectError) as excinfo:
        httpx.get(f"http://127.0.0.1:{closed_port}/health", timeout=5)
    assert describe_error(excinfo.value) == "connection refused"
