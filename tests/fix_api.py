"""Fixture plugin: the JWT-protected API stand-in (tests/apps/api.py) under uvicorn on loopback.

Load it with ``pytest_plugins = ["tests.fix_api"]`` in tests/conftest.py (or ``-p tests.fix_api``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import serve_in_thread


@pytest.fixture(scope="session")
def api_url() -> Iterator[str]:
    """Base URL (``http://127.0.0.1:<port>``) of the API stand-in; WebSockets on ``ws://`` at the same port."""
    from tests.apps.api import app

    with serve_in_thread(
        app, "API stand-in", ws="websockets-sansio", lifespan="off", timeout_graceful_shutdown=5
    ) as url:
        yield url
