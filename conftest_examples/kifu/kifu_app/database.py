"""PostgreSQL access with psycopg 3: connections, the migrations applied at start, the seed account."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row

CONNECT_TIMEOUT = 5  # seconds; libpq's minimum is 2
MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed number: two instances starting at once take turns to migrate.
MIGRATION_LOCK = 0x6B696675

log = logging.getLogger("kifu")


@asynccontextmanager
async def connect(dsn: str, *, timeout: int = CONNECT_TIMEOUT) -> AsyncIterator[psycopg.AsyncConnection[DictRow]]:
    """One transaction on a new connection: committed when the block ends, rolled back on an error."""
    connection = await psycopg.AsyncConnection.connect(dsn, connect_timeout=timeout, row_factory=dict_row)
    async with connection:
        yield connection


async def fetch_one(dsn: str, query: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
    """Run *query* in its own transaction and return its first row, or None."""
    async with connect(dsn) as connection:
        cursor = await connection.execute(query, params)
        return await cursor.fetchone()


async def fetch_all(dsn: str, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Run *query* in its own transaction and return all its rows."""
    async with connect(dsn) as connection:
        cursor = await connection.execute(query, params)
        return await cursor.fetchall()


async def probe(dsn: str) -> str:
    """``"ok"`` when the database answers ``SELECT 1``, else what went wrong."""
    try:
        async with connect(dsn, timeout=2) as connection:
            await connection.execute("SELECT 1")
    except (psycopg.Error, OSError) as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


async def migrate(dsn: str, *, skip: Collection[str] = ()) -> list[str]:
    """Apply the migration files not yet recorded in schema_migrations, in order; return their names.

    A version in *skip* (such as ``"021"``) is left out, to reproduce a deploy that missed it.
    """
    applied: list[str] = []
    async with connect(dsn) as connection:
        await connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version text PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor = await connection.execute("SELECT version FROM schema_migrations")
        done = {row["version"] for row in await cursor.fetchall()}
        for path in sorted(MIGRATIONS.glob("*.sql")):
            version = path.name.partition("_")[0]
            if version in done:
                continue
            if version in skip:
                log.warning("not applying migration %s (KIFU_FAULTS)", path.name)
                continue
            # Bytes: a file's text is no LiteralString.  Without parameters, several statements may run at once.
            await connection.execute(path.read_text(encoding="utf-8").encode())
            await connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, path.stem)
            )
            applied.append(path.name)
    for name in applied:
        log.info("applied migration %s", name)
    return applied


async def seed_user(dsn: str, email: str, password_hash: str) -> None:
    """Create the account *email*, or reset its password when it exists."""
    async with connect(dsn) as connection:
        await connection.execute(
            "INSERT INTO users (email, password_hash) VALUES (%s, %s) "
            "ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash",
            (email, password_hash),
        )
