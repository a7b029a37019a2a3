"""The test servers are real: PostgreSQL answers SQL, Redis stores and returns a key, the Pushgateway holds a push."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from prometheus_client import CollectorRegistry, Gauge, delete_from_gateway, push_to_gateway
from prometheus_client.parser import text_string_to_metric_families


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


def test_pushgateway_holds_a_push_until_deleted(pushgateway_url: str) -> None:
    """prometheus_client pushes a gauge to the test Pushgateway, which shows it under its group until it is deleted."""
    job = f"test-services-{uuid.uuid4().hex[:8]}"
    registry = CollectorRegistry()
    Gauge("deploysmoke_test_round_trip", "A value pushed by the tests.", registry=registry).set(42)

    def held() -> list[float]:
        text = httpx.get(f"{pushgateway_url}/metrics", timeout=5).text
        return [
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "deploysmoke_test_round_trip" and sample.labels.get("job") == job
        ]

    push_to_gateway(pushgateway_url, job=job, registry=registry, timeout=5)
    try:
        assert held() == [42.0]
    finally:
        delete_from_gateway(pushgateway_url, job=job, timeout=5)
    assert held() == []


def test_devservices_pushgateway_listens_on_loopback_and_keeps_nothing(tmp_path: Path) -> None:
    """tools/devservices.py starts Debian's Pushgateway on 127.0.0.1 without its persistence file, and stopping it
    ends the process and removes its folder."""
    from tools import devservices

    service = devservices.start_pushgateway(tmp_path)
    try:
        assert service.url.startswith("http://127.0.0.1:")
        flags = httpx.get(f"{service.url}/api/v1/status", timeout=5).json()["data"]["flags"]
        assert flags["persistence.file"] == ""
        assert flags["web.listen-address"] == service.url.removeprefix("http://")
    finally:
        service.stop()
    with pytest.raises(ProcessLookupError):  # stopped by its PID, and reaped
        os.kill(service.pid, 0)
    assert list(tmp_path.iterdir()) == []
