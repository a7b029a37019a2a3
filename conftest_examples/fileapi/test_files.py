"""Upload and download: a file comes back as it went in, parallel uploads succeed, and nothing is left behind.

Every check here writes, so each is marked destructive: on a production target the guard skips
them unless the run allows destructive checks, and even then they upload only under the target's
smoke_prefix (see conftest.py).  Each upload, download and delete is timed in the run's reports.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import TYPE_CHECKING

import pytest

from pytest_deploysmoke import expect_json, expect_status

if TYPE_CHECKING:
    from conftest import SmokeFiles

    from pytest_deploysmoke import AsyncSmokeClient, SmokeClient  # the types of ahttp and http

pytestmark = [pytest.mark.phase("files"), pytest.mark.destructive]

FILE_SIZE = 16 * 1024  # bytes: "a small generated file"
CONCURRENT_UPLOADS = 4


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def first_difference(left: bytes, right: bytes) -> int:
    return next((i for i, (a, b) in enumerate(zip(left, right, strict=False)) if a != b), min(len(left), len(right)))


def test_file_round_trip(http: SmokeClient, smoke_files: SmokeFiles) -> None:
    """A small generated file uploads, downloads with the same bytes and SHA-256, and is deleted (/files/{key})."""
    data = os.urandom(FILE_SIZE)
    digest = sha256(data)
    key = smoke_files.key("round-trip.bin")
    path = f"/files/{key}"
    expect_json(expect_status(http.put(path, content=data), 201), {"key": key, "size": FILE_SIZE, "sha256": digest})

    response = expect_status(http.get(path), 200)
    if response.content != data:
        pytest.fail(
            f"GET {path} returned {len(response.content)} bytes that differ from the {FILE_SIZE} uploaded "
            f"(first difference at byte {first_difference(response.content, data)}; "
            f"SHA-256 {sha256(response.content)[:12]}... instead of {digest[:12]}...); "
            "the service changes files on the way out: check its storage and anything that rewrites bodies",
            pytrace=False,
        )
    checksum = response.headers.get("X-Checksum-SHA256")
    if checksum != digest:
        pytest.fail(
            f"GET {path} gave the right bytes, but X-Checksum-SHA256 is {checksum!r}, not {digest[:12]}...; "
            "clients that verify downloads will reject them: check how the service stores checksums",
            pytrace=False,
        )

    expect_status(smoke_files.delete(key), 204)
    expect_status(http.get(path), 404)


@pytest.mark.asyncio
async def test_concurrent_uploads_succeed(ahttp: AsyncSmokeClient, smoke_files: SmokeFiles) -> None:
    """4 files uploaded at once all succeed, each stored with its SHA-256, and all are listed (PUT /files/{key})."""
    files = {smoke_files.key(f"parallel-{n}.bin"): os.urandom(FILE_SIZE) for n in range(CONCURRENT_UPLOADS)}
    responses = await asyncio.gather(*(ahttp.put(f"/files/{key}", content=data) for key, data in files.items()))
    problems = []
    for (key, data), response in zip(files.items(), responses, strict=True):
        if response.status_code != 201:
            problems.append(f"{key} answered {response.status_code}")
        elif response.json().get("sha256") != sha256(data):
            problems.append(f"{key} was stored with another SHA-256")
    if problems:
        pytest.fail(
            f"{len(problems)} of {CONCURRENT_UPLOADS} concurrent uploads failed: {'; '.join(problems)}; "
            "the service must take parallel uploads: check its workers, connection pool and storage locks",
            pytrace=False,
        )
    listed = expect_json(expect_status(await ahttp.get("/files", params={"prefix": smoke_files.prefix}), 200))
    missing = sorted(set(files) - {file["key"] for file in listed["files"]})
    if missing:
        listing = f"GET /files?prefix={smoke_files.prefix}"
        pytest.fail(f"{listing} does not list {', '.join(missing)}, uploaded just now; is it stale?", pytrace=False)
