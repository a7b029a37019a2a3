"""Fixtures of the plugin's own tests: the stand-in service under uvicorn on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpcore  # noqa: F401
import httpx  # noqa: F401
import pytest
import uvicorn

# Import every plugin module and client library up front.  pytester's in-process runs drop
# the modules first imported inside them, and the plugin imports most modules lazily; a
# module loaded again in a later run would hold new StashKeys (or new exception classes)
# while the objects already handed out still point at the old module.
import pytest_deploysmoke.annotation
import pytest_deploysmoke.gating
import pytest_deploysmoke.launch
import pytest_deploysmoke.preflight
import pytest_deploysmoke.reports.terminal
import pytest_deploysmoke.targets  # noqa: F401

APPS = Path(__file__).parent / "apps"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedServer(uvicorn.Server):
    """uvicorn in a thread, as httpx's own tests serve their app."""

    def install_signal_handlers(self) -> None:  # the main thread keeps its handlers
        pass


@pytest.fixture(scope="session")
def standin_url() -> Iterator[str]:
    """Base URL of the stand-in service, served by uvicorn in a thread on 127.0.0.1."""
    from tests.apps.standin import app

    port = _free_port()
    server = ThreadedServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the stand-in server did not start within 10 s")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return _free_port()


@pytest.fixture(autouse=True)
def _quiet_asyncio_ini(request: pytest.FixtureRequest) -> None:
    """Give every pytester project an ini that settles pytest-asyncio's loop-scope warning."""
    if "pytester" in request.fixturenames:
        pytester: pytest.Pytester = request.getfixturevalue("pytester")
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
