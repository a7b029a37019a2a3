"""Where files live: their metadata in PostgreSQL, their bytes on disk under the data directory."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row

CONNECT_TIMEOUT = 5  # seconds; libpq's minimum is 2
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS files ("
    " key text PRIMARY KEY,"
    " size bigint NOT NULL,"
    " sha256 text NOT NULL,"
    " uploaded_at timestamptz NOT NULL DEFAULT now())"
)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One file's metadata row."""

    key: str
    size: int
    sha256: str
    uploaded_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size, "sha256": self.sha256, "uploaded_at": self.uploaded_at.isoformat()}


class Storage:
    """The file store: one database connection (its statements take turns) and the data directory."""

    def __init__(self, dsn: str, data_dir: Path) -> None:
        self.dsn = dsn
        self.data_dir = data_dir
        self._connection: psycopg.AsyncConnection[DictRow] | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Connect, create the files table when missing, and make sure the data directory exists."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        await self._execute(SCHEMA)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def _execute(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        async with self._lock:
            if self._connection is None or self._connection.closed:
                self._connection = await psycopg.AsyncConnection.connect(
                    self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT, row_factory=dict_row
                )
            cursor = await self._connection.execute(query, params)
            return await cursor.fetchall() if cursor.description else []

    async def probe(self) -> str:
        """``"ok"`` when the database answers ``SELECT 1``, else what went wrong."""
        try:
            await asyncio.wait_for(self._execute("SELECT 1"), 2)
        except (psycopg.Error, OSError, asyncio.TimeoutError) as exc:
            self._connection = None  # reconnect on the next statement
            return f"unavailable: {type(exc).__name__}"
        return "ok"

    def _path(self, key: str) -> Path:
        # Named by the key's hash, so no key can reach outside the data directory.
        return self.data_dir / hashlib.sha256(key.encode()).hexdigest()

    async def put(self, key: str, data: bytes) -> StoredFile:
        """Write *data* under *key* (replacing what was there) and record it."""
        path = self._path(key)
        await asyncio.to_thread(_write_atomically, path, data)
        rows = await self._execute(
            "INSERT INTO files (key, size, sha256) VALUES (%s, %s, %s) "
            "ON CONFLICT (key) DO UPDATE SET size = EXCLUDED.size, sha256 = EXCLUDED.sha256, uploaded_at = now() "
            "RETURNING key, size, sha256, uploaded_at",
            (key, len(data), hashlib.sha256(data).hexdigest()),
        )
        return StoredFile(**rows[0])

    async def get(self, key: str) -> tuple[StoredFile, bytes] | None:
        """The file's metadata and bytes, or None when there is no such file."""
        rows = await self._execute("SELECT key, size, sha256, uploaded_at FROM files WHERE key = %s", (key,))
        if not rows:
            return None
        return StoredFile(**rows[0]), await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> bool:
        """Remove the file; False when there was none."""
        rows = await self._execute("DELETE FROM files WHERE key = %s RETURNING key", (key,))
        self._path(key).unlink(missing_ok=True)
        return bool(rows)

    async def list(self, prefix: str, limit: int) -> list[StoredFile]:
        """Up to *limit* files whose key starts with *prefix*, by key."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = await self._execute(
            "SELECT key, size, sha256, uploaded_at FROM files WHERE key LIKE %s ORDER BY key LIMIT %s",
            (pattern, limit),
        )
        return [StoredFile(**row) for row in rows]


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.partial")
    partial.write_bytes(data)
    partial.replace(path)
