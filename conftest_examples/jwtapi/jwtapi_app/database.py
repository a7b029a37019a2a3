"""PostgreSQL access with psycopg 3: connections, the schema and seed data applied at start."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row

CONNECT_TIMEOUT = 5  # seconds; libpq's minimum is 2
# Any fixed number: two instances starting at once take turns to create the schema.
SCHEMA_LOCK = 0x6A777461

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS mentors (
    id        bigserial PRIMARY KEY,
    name      text NOT NULL,
    headline  text NOT NULL,
    expertise text[] NOT NULL DEFAULT '{}'
);
"""

#: The mentors a new database starts with, so the directory has something to list and search.
MENTORS = (
    ("Ada Okafor", "Staff engineer, distributed systems", ["python", "postgresql", "architecture"]),
    ("Bruno Lind", "Engineering manager, first-time leads", ["leadership", "hiring"]),
    ("Chen Wei", "Security engineer, application security", ["security", "oauth", "jwt"]),
    ("Dana Costa", "Frontend lead, design systems", ["typescript", "accessibility"]),
    ("Emil Novak", "SRE, on-call and incident reviews", ["observability", "kubernetes", "postgresql"]),
)


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


async def prepare(dsn: str) -> None:
    """Create the tables when missing, and the seed mentors when there are none."""
    async with connect(dsn) as connection:
        await connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        await connection.execute(SCHEMA)
        cursor = await connection.execute("SELECT count(*) AS n FROM mentors")
        row = await cursor.fetchone()
        if row is not None and row["n"] == 0:
            async with connection.cursor() as mentors:
                await mentors.executemany(
                    "INSERT INTO mentors (name, headline, expertise) VALUES (%s, %s, %s)", MENTORS
                )


async def seed_user(dsn: str, email: str, password_hash: str) -> None:
    """Create the account *email*, or reset its password when it exists."""
    async with connect(dsn) as connection:
        await connection.execute(
            "INSERT INTO users (email, password_hash) VALUES (%s, %s) "
            "ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash",
            (email, password_hash),
        )
