"""The test servers are real: PostgreSQL answers SQL and Redis stores and returns a key."""

from __future__ import annotations

import uuid

import psycopg
import redis


def test_postgres_answers_select_version(pg_dsn: str) -> None:
    """psycopg connects to the test DSN and the server says it is PostgreSQL."""
    with psycopg.connect(pg_dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT version()").fetchone()
    assert row is not None
    assert "PostgreSQL" in row[0]


def test_redis_pings_and_round_trips_a_key(redis_url: str) -> None:
    """redis-py PINGs the test server, and a SET of a unique key is read back by GET."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=5)
    key = f"deploysmoke:test-services:{uuid.uuid4().hex}"
    try:
        assert client.ping() is True
        assert client.set(key, "round-trip", ex=60) is True
        assert client.get(key) == b"round-trip"
    finally:
        client.delete(key)
        client.close()
