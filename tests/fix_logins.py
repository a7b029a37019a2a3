"""Fixture plugin: the logins stand-in (tests/apps/logins.py) under uvicorn on loopback, and its configs.

Loaded through ``pytest_plugins`` in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fix_servers import serve_in_thread


@pytest.fixture(scope="session")
def logins_url() -> Iterator[str]:
    """Base URL of the logins stand-in: FastAPI form, OAuth2, Django and Express sessions, Basic, API key."""
    from tests.apps.logins import app

    with serve_in_thread(app, "logins stand-in", ws="websockets-sansio", lifespan="off") as url:
        yield url


def logins_toml(url: str, auth: str, extra: str = "") -> str:
    """A deploysmoke.toml whose target 't' is the logins stand-in, with *auth* as its ``[auth]`` table's body."""
    return f'[targets.t]\nbase_url = "{url}"\ntimeout = 5.0\n{extra}\n[targets.t.auth]\n{auth}\n'
