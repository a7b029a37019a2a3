"""Quickstart smoke checks: the service is up, reports its version, and notes work."""

from __future__ import annotations

import httpx
import pytest

from pytest_deploysmoke import Target, expect_json, expect_status


@pytest.mark.phase("health")
def test_health_answers_200(http: httpx.Client) -> None:
    """GET /health answers 200 within 500 ms."""
    expect_status(http.get("/health", budget="500ms"), 200)


@pytest.mark.phase("health")
def test_health_reports_the_deployed_version(http: httpx.Client, deploy_target: Target) -> None:
    """/health reports the version this deploy should have."""
    if not deploy_target.version:
        pytest.skip("no expected version configured (set RELEASE_VERSION)")
    expect_json(http.get("/health"), {"status": "ok", "version": deploy_target.version})


@pytest.mark.phase("features")
def test_notes_list_loads(http: httpx.Client) -> None:
    """GET /api/notes lists notes."""
    notes = expect_json(expect_status(http.get("/api/notes"), 200))
    assert isinstance(notes, list)


@pytest.mark.phase("features")
@pytest.mark.destructive
def test_note_can_be_created_and_read(http: httpx.Client) -> None:
    """A note can be created and read back (writes: not run on production)."""
    created = expect_json(expect_status(http.post("/api/notes", json={"text": "smoke"}), 201))
    expect_json(http.get(f"/api/notes/{created['id']}"), {"text": "smoke"})
