"""Fixture plugin: the JWT-protected API stand-in (tests/apps/api.py) under uvicorn on loopback.

Load it with ``pytest_plugins = ["tests.fix_api"]`` in tests/conftest.py (or ``-p tests.fix_api``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from tests.conftest import ThreadedServer, _free_port


@pytest.fixture(scope="session")
def api_url() -> Iterator[str]:
    """Base URL (``http://127.0.0.1:<port>``) of the API stand-in; WebSockets on ``ws://`` at the same port."""
    from tests.apps.api import app

    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="websockets-sansio",
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = ThreadedServer(config)
    thread = threading.Thread(target=server.run, name="api-standin", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API stand-in server did not start within 10 s")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
