"""The file API's own smoke fixtures: where uploads go and how they are cleaned up, and the private ports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from pytest_deploysmoke import Target

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http


@pytest.fixture(scope="session")
def smoke_prefix(deploy_target: Target) -> str:
    """The key prefix this run uploads under: the target's ``smoke_prefix`` and a run id, never shared.

    Off production the prefix defaults to ``smoke/``.  On production there is no default: the
    upload checks are ``destructive``, so the guard runs them only with ``--allow-destructive``
    (or ``allow_destructive = true``), and even then only where the target names a dedicated prefix.
    """
    prefix = deploy_target.vars.get("smoke_prefix")
    if prefix is None and deploy_target.production:
        pytest.skip(
            f"target '{deploy_target.name}' is production and names no smoke_prefix in its vars; "
            'uploads there go only under a dedicated prefix (add smoke_prefix = "smoke/")'
        )
    if prefix is None:
        prefix = "smoke/"
    if not isinstance(prefix, str) or not prefix.strip("/"):
        pytest.fail(
            f"target '{deploy_target.name}' vars.smoke_prefix is {prefix!r}; expected a key prefix such as \"smoke/\"",
            pytrace=False,
        )
    return f"{prefix}{uuid.uuid4().hex[:8]}/"


class SmokeFiles:
    """The keys one check uploads to, each deleted when the check ends, whether it passed or not."""

    def __init__(self, http: SmokeClient, prefix: str) -> None:
        self.http = http
        self.prefix = prefix
        self.pending: list[str] = []

    def key(self, name: str) -> str:
        """A key under this check's prefix, to be deleted after the check; ask for it before uploading."""
        key = f"{self.prefix}{name}"
        self.pending.append(key)
        return key

    def delete(self, key: str) -> httpx.Response:
        """DELETE the file now; it is not deleted again afterwards."""
        response = self.http.delete(f"/files/{key}")
        if response.status_code in (204, 404) and key in self.pending:
            self.pending.remove(key)
        return response

    def delete_pending(self) -> None:
        """Delete every file still pending; fail naming the ones that could not be deleted."""
        left = []
        for key in list(self.pending):
            try:
                status = str(self.delete(key).status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            if key in self.pending:
                left.append(f"{key} ({status})")
        if left:
            pytest.fail(
                f"could not delete {len(left)} smoke upload(s): DELETE /files/{{key}} answered {', '.join(left)}; "
                f"delete them by hand (everything under {self.prefix} belongs to this smoke run)",
                pytrace=False,
            )


@pytest.fixture
def smoke_files(http: SmokeClient, smoke_prefix: str) -> Iterator[SmokeFiles]:
    """Keys for this check's uploads under the run's smoke prefix; whatever is left is deleted afterwards."""
    files = SmokeFiles(http, f"{smoke_prefix}{uuid.uuid4().hex[:8]}/")
    yield files
    files.delete_pending()


@pytest.fixture
def error_page(http: SmokeClient, deploy_target: Target) -> httpx.Response:
    """The answer to the target's ``error_probe``, a request the service cannot handle: its error page."""
    path = deploy_target.vars.get("error_probe", "/files?limit=oops")
    # Many servers (uvicorn among them) drop the connection after an unhandled error without saying
    # so; closing it ourselves keeps the next check from reusing a dead connection.
    response = http.get(path, headers={"Connection": "close"})
    if response.status_code < 400:
        pytest.fail(
            f"GET {path} answered {response.status_code}, not an error; "
            "set vars.error_probe to a request the service refuses, to see its error page",
            pytrace=False,
        )
    return response


@pytest.fixture
def private_ports(deploy_target: Target) -> list[int]:
    """The ports the target lists as private (``vars.private_ports``): a list of numbers, or "5432,8081"."""
    value = deploy_target.vars.get("private_ports", [])
    items = value.split(",") if isinstance(value, str) else value
    ports = []
    for item in items if isinstance(items, list) else [items]:
        text = str(item).strip()
        if not text:
            continue
        if not text.isdigit() or not 0 < int(text) < 65536:
            pytest.fail(
                f"target '{deploy_target.name}' vars.private_ports has {item!r}; "
                'expected port numbers, as a list ([5432, 8081]) or a string ("5432,8081")',
                pytrace=False,
            )
        ports.append(int(text))
    if not ports:
        pytest.skip(f"target '{deploy_target.name}' lists no private ports (vars.private_ports)")
    return ports
