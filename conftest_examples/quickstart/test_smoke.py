"""Quickstart smoke checks: the service is up, reports its version, and notes work."""

from __future__ import annotations

import httpx
import pytest

from pytest_deploysmoke import Target


@pytest.mark.phase("health")
def test_health_answers_200(deploy_target: Target) -> None:
    """GET /health answers 200."""
    response = httpx.get(deploy_target.base_url + deploy_target.health_path, timeout=deploy_target.timeout)
    assert response.status_code == 200


@pytest.mark.phase("health")
def test_health_reports_the_deployed_version(deploy_target: Target) -> None:
    """/health reports the version this deploy should have."""
    if not deploy_target.version:
        pytest.skip("no expected version configured (set RELEASE_VERSION)")
    body = httpx.get(deploy_target.base_url + "/health", timeout=deploy_target.timeout).json()
    assert body["version"] == deploy_target.version


@pytest.mark.phase("features")
def test_notes_list_loads(deploy_target: Target) -> None:
    """GET /api/notes lists notes."""
    response = httpx.get(deploy_target.base_url + "/api/notes", timeout=deploy_target.timeout)
    assert response.status_code == 200
    assert isinstance(response.json(), list)


@pytest.mark.phase("features")
@pytest.mark.destructive
def test_note_can_be_created_and_read(deploy_target: Target) -> None:
    """A note can be created and read back (writes: not run on production)."""
    created = httpx.post(deploy_target.base_url + "/api/notes", json={"text": "smoke"}, timeout=deploy_target.timeout)
    assert created.status_code == 201
    note_id = created.json()["id"]
    read = httpx.get(f"{deploy_target.base_url}/api/notes/{note_id}", timeout=deploy_target.timeout)
    assert read.json()["text"] == "smoke"
