"""Preflight: before the deploy is trusted, its database and Redis answer and a schema backup works.

The required environment (``required_env`` in deploysmoke.toml) is checked by the plugin's
built-in ``deploysmoke::required_env`` check, which runs first.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pytest_deploysmoke import Target

if TYPE_CHECKING:
    import redis

    from pytest_deploysmoke import SmokeConnection  # the type of db

pytestmark = pytest.mark.phase("preflight")

BACKUP_TIMEOUT = 120  # seconds pg_dump may take to dump the schema


def test_database_is_reachable(db: SmokeConnection) -> None:
    """Database connection confirmed: the smoke role connects and runs SELECT 1."""
    assert db.scalar("SELECT 1") == 1


def test_redis_is_reachable(redis_client: redis.Redis) -> None:
    """Redis answers PING."""
    assert redis_client.ping()


def test_schema_backup_with_pg_dump(deploy_target: Target, tmp_path: Path) -> None:
    """Database backup works: pg_dump --schema-only completes.

    pg_dump only reads (it dumps inside a read-only transaction).  The password goes to it in
    PGPASSWORD and the rest of the DSN in --dbname, so the password is never on a command line
    or in the output.  The dump is written to a temporary directory and left there.
    """
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not on PATH; install the PostgreSQL client tools to check backups")
    if deploy_target.database_url is None:
        pytest.skip(f"target '{deploy_target.name}' has no database_url")
    params = conninfo_to_dict(deploy_target.database_url.reveal())
    password = params.pop("password", None)
    env = {**os.environ, "PGCONNECT_TIMEOUT": str(max(2, math.ceil(deploy_target.timeout)))}
    if password is not None:
        env["PGPASSWORD"] = str(password)
    dump = tmp_path / "schema.sql"
    dbname = make_conninfo("", **params)  # the DSN without its password
    command = [pg_dump, "--schema-only", "--no-owner", f"--file={dump}", f"--dbname={dbname}"]
    started = time.monotonic()
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=BACKUP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        message = f"pg_dump --schema-only did not finish within {BACKUP_TIMEOUT} s; is the database under load?"
        pytest.fail(message, pytrace=False)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        reason = deploy_target.redactor().redact(" ".join(result.stderr.split()))
        pytest.fail(
            f"pg_dump --schema-only exited with code {result.returncode} after {elapsed:.1f} s: {reason}; "
            "check that pg_dump's major version is at least the server's and that the role may read the schema",
            pytrace=False,
        )
    assert "CREATE TABLE" in dump.read_text(encoding="utf-8"), f"the schema dump has no tables: {dump}"
