"""Fixture plugin: the JWT-protected API stand-in (tests/apps/api.py) under uvicorn on loopback.

Loaded through ``pytest_plugins`` in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from tests.apps.api import USER_EMAIL, USER_PASSWORD
from tests.fix_servers import serve_in_thread

#: How much later the slowed stand-in's ``/slow`` answers: 40 % of a ``/slow?s=0.04`` request.
SLOWED_BY_S = 0.016


@pytest.fixture(scope="session")
def api_url() -> Iterator[str]:
    """Base URL (``http://127.0.0.1:<port>``) of the API stand-in; WebSockets on ``ws://`` at the same port."""
    from tests.apps.api import app

    with serve_api(app, "API stand-in") as url:
        yield url


@pytest.fixture(scope="session")
def slowed_api_url() -> Iterator[str]:
    """The API stand-in with a fault, its ``/slow`` 16 ms slower: ``/slow?s=0.04`` answers in 56 ms, not 40 ms (+40%)."""
    from tests.apps.api import slowed

    with serve_api(slowed("/slow", SLOWED_BY_S), "slowed API stand-in") as url:
        yield url


def serve_api(app: Any, name: str) -> AbstractContextManager[str]:
    """Serve the API stand-in (or a faulty one) in a thread, WebSockets included; the context gives its base URL."""
    return serve_in_thread(app, name, ws="websockets-sansio", lifespan="off", timeout_graceful_shutdown=5)


def users_toml(url: str, extra: str = "", user: str = "") -> str:
    """A deploysmoke.toml whose target 't' logs in to the API stand-in and registers smoke users."""
    return (
        f'[targets.t]\nbase_url = "{url}"\ntimeout = 2.0\n{extra}\n'
        f'[targets.t.auth]\nlogin_path = "/api/v1/auth/login"\nusername = "{USER_EMAIL}"\n'
        f'password = "{USER_PASSWORD}"\nusername_field = "email"\n'
        '[targets.t.smoke_user]\nregister_path = "/api/v1/auth/register"\nprefix = "smoke-"\n'
        f'delete_path = "/api/v1/users/{{id}}"\n{user}\n'
    )
