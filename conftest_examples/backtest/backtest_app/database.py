"""PostgreSQL access with psycopg 3: the backtests table, created at start, and the queries on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row

CONNECT_TIMEOUT = 5  # seconds; libpq's minimum is 2
# Any fixed number: two instances starting at once take turns to create the table.
SCHEMA_LOCK = 0x62747374
SCHEMA = """
CREATE TABLE IF NOT EXISTS backtests (
    id text PRIMARY KEY,
    symbols text[] NOT NULL,
    start_date date NOT NULL,
    end_date date NOT NULL,
    initial_capital double precision NOT NULL,
    status text NOT NULL DEFAULT 'queued',
    progress integer NOT NULL DEFAULT 0,
    results_file text,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz
)
"""
SELECT_BACKTEST = "SELECT id, status, progress, results_file, error FROM backtests WHERE id = %s"


def connect_sync(dsn: str) -> psycopg.Connection[DictRow]:
    """A connection for the worker and the start-up work: each statement commits on its own."""
    return psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT, row_factory=dict_row)


def create_schema(connection: psycopg.Connection[DictRow]) -> None:
    """Create the backtests table unless it exists."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        connection.execute(SCHEMA)


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


async def probe(dsn: str) -> str:
    """``"connected"`` when the database answers ``SELECT 1`` within 2 s, else ``"disconnected"``."""
    try:
        async with connect(dsn, timeout=2) as connection:
            await connection.execute("SELECT 1")
    except (psycopg.Error, OSError):
        return "disconnected"
    return "connected"
