"""Security: private ports refuse the runner, no response gives a secret away, the database is read-only."""

from __future__ import annotations

import socket
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import leaks
import pytest

from pytest_deploysmoke import Target

if TYPE_CHECKING:
    import httpx

    from pytest_deploysmoke import SmokeClient, SmokeConnection  # the types of http and db

pytestmark = pytest.mark.phase("security")

CONNECT_TIMEOUT = 1.0  # seconds per private port; no answer in that time counts as closed
#: The responses the other checks look at, fetched again and searched for secrets.
PAGES = ("/", "/docs", "/info", "/files")


def test_private_ports_refuse_the_runner(deploy_target: Target, private_ports: list[int]) -> None:
    """The ports listed as private in the target's config (vars.private_ports) refuse connections from the runner."""
    host = urlsplit(deploy_target.base_url).hostname or ""
    reachable = []
    for port in private_ports:
        try:
            with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
                reachable.append(f"{host}:{port}")
        except socket.gaierror as exc:
            pytest.fail(f"cannot check the private ports: {host} does not resolve ({exc.strerror})", pytrace=False)
        except OSError:
            continue  # refused, timed out or unreachable: closed to the runner, as it should be
    if reachable:
        pytest.fail(
            f"{', '.join(reachable)} accepted a TCP connection from the runner, but the target lists "
            f"{'it' if len(reachable) == 1 else 'them'} as private (vars.private_ports); "
            "close the port, or firewall it off from outside",
            pytrace=False,
        )


def test_no_secrets_in_responses_or_headers(
    http: SmokeClient, deploy_target: Target, error_page: httpx.Response
) -> None:
    """No response gives a secret away, in its body or its headers (health, pages, file list, an error, a 404)."""
    paths = [deploy_target.health_path, *PAGES, f"/fileapi-smoke-no-such-page-{uuid.uuid4().hex[:8]}"]
    responses = [error_page, *(http.get(path) for path in paths)]
    leaked = []
    for response in responses:
        path = response.request.url.raw_path.decode()
        found = leaks.secrets_in_headers(response.headers.multi_items())
        if in_body := leaks.secrets_in(response.text):
            found.insert(0, f"{' and '.join(in_body)} in the body")
        if found:
            leaked.append(f"GET {path} ({response.status_code}): {', '.join(found)}")
    if leaked:
        pytest.fail(
            f"secrets in {len(leaked)} of {len(responses)} responses: {'; '.join(leaked)}; "
            "a response must never carry secrets: turn DEBUG off, and scrub error pages and headers",
            pytrace=False,
        )


def test_database_is_read_only_from_the_runner(db: SmokeConnection) -> None:
    """The service's database is reachable read-only from the runner: SELECT 1, a read-only session, the files table."""
    assert db.scalar("SELECT 1") == 1
    read_only = db.scalar("SHOW transaction_read_only")
    if read_only != "on":
        pytest.fail(f"SHOW transaction_read_only is {read_only!r} in the smoke session; expected 'on'", pytrace=False)
    db.assert_tables("files")
