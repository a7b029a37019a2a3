"""kifu's own smoke fixtures: an exchange sync run, and a summary pack generated from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke import Target, expect_json, expect_status, poll_until

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http and authed_http

PACK_RANGE = "30d"


def is_id(value: object) -> bool:
    """A non-empty string id; named, so that expect_json's failure says which check failed."""
    return isinstance(value, str) and value != ""


@pytest.fixture(scope="session")
def sync_run(authed_http: SmokeClient) -> str:
    """The run_id of an exchange sync started by this smoke run; it writes, so use it from destructive checks."""
    response = expect_status(authed_http.post("/api/v1/exchange/sync"), 202)
    return str(expect_json(response, {"run_id": is_id})["run_id"])


@pytest.fixture(scope="session")
def ready_pack(authed_http: SmokeClient, sync_run: str, deploy_target: Target) -> dict[str, Any]:
    """A 30-day summary pack generated from ``sync_run``, polled until its status is "ready".

    Packs are built in the background, so the check polls; the target's ``pack_ready_within``
    variable says how long a pack may take there.
    """
    request = {"source_run_id": sync_run, "range": PACK_RANGE}
    response = expect_status(authed_http.post("/api/v1/packs/generate", json=request), 202)
    pack_id = expect_json(response, {"pack_id": is_id, "status": "pending"})["pack_id"]

    def pack_status() -> dict[str, Any]:
        pack: dict[str, Any] = expect_json(expect_status(authed_http.get(f"/api/v1/packs/{pack_id}"), 200))
        return pack

    return poll_until(
        pack_status,
        until=lambda pack: pack["status"] == "ready",
        timeout=deploy_target.vars.get("pack_ready_within", "30s"),
        every="100ms",
    )
