"""Fixture plugin: the real PostgreSQL, Redis and Pushgateway that ``python3 tasks.py test`` starts (tools/devservices.py).

As in psycopg's own tests (fix_db.py): the DSN comes from a pytest option or an environment
variable, the option first.  A missing one fails the tests that need it, with instructions, and
never skips.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

import httpx
import psycopg
import pytest
import redis

SERVER_SETTINGS = {
    "pg_dsn": ("--test-dsn", "DEPLOYSMOKE_TEST_DSN", "PostgreSQL"),
    "pg_admin_dsn": ("--test-admin-dsn", "DEPLOYSMOKE_TEST_ADMIN_DSN", "PostgreSQL (admin)"),
    "redis_url": ("--test-redis", "DEPLOYSMOKE_TEST_REDIS_URL", "Redis"),
    "pushgateway_url": ("--test-pushgateway", "DEPLOYSMOKE_TEST_PUSHGATEWAY_URL", "Prometheus Pushgateway"),
}
SERVER_TIMEOUT = 5  # seconds to connect to a test server


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("deploysmoke-tests", "pytest-deploysmoke's own test servers")
    group.addoption(
        "--test-dsn",
        default=None,
        help="PostgreSQL DSN of a database the tests may use (default: $DEPLOYSMOKE_TEST_DSN)",
    )
    group.addoption(
        "--test-admin-dsn",
        default=None,
        help="PostgreSQL DSN of a superuser on that server (default: $DEPLOYSMOKE_TEST_ADMIN_DSN)",
    )
    group.addoption(
        "--test-redis",
        default=None,
        help="Redis URL of a server the tests may use (default: $DEPLOYSMOKE_TEST_REDIS_URL)",
    )
    group.addoption(
        "--test-pushgateway",
        default=None,
        help="URL of a Prometheus Pushgateway the tests may push to (default: $DEPLOYSMOKE_TEST_PUSHGATEWAY_URL)",
    )


def _server_setting(config: pytest.Config, fixture: str) -> str | None:
    option, env_var, _ = SERVER_SETTINGS[fixture]
    value = config.getoption(option) or os.environ.get(env_var)
    return str(value) if value else None


def _required_server_setting(config: pytest.Config, fixture: str) -> str:
    value = _server_setting(config, fixture)
    if value is None:
        option, env_var, name = SERVER_SETTINGS[fixture]
        pytest.fail(
            f"no {name} server for the tests: start the servers with `python3 tasks.py test`, "
            f"or set {env_var} (or pass {option}=...) to a server of your own",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def pg_dsn(pytestconfig: pytest.Config) -> str:
    """DSN of the real PostgreSQL test database (role and database ``smoke`` under tasks.py)."""
    return _required_server_setting(pytestconfig, "pg_dsn")


@pytest.fixture(scope="session")
def pg_admin_dsn(pytestconfig: pytest.Config) -> str:
    """DSN of a superuser on the same PostgreSQL server."""
    return _required_server_setting(pytestconfig, "pg_admin_dsn")


@pytest.fixture(scope="session")
def redis_url(pytestconfig: pytest.Config) -> str:
    """URL of the real Redis test server."""
    return _required_server_setting(pytestconfig, "redis_url")


@pytest.fixture(scope="session")
def pushgateway_url(pytestconfig: pytest.Config) -> str:
    """URL of the real Prometheus Pushgateway (Debian's ``prometheus-pushgateway`` under tasks.py)."""
    return _required_server_setting(pytestconfig, "pushgateway_url")


def _without_password(url: str, text: str) -> str:
    """*text* with the password of *url* (raw or percent-decoded) replaced by ``***``."""
    password = urlsplit(url).password
    for secret in {password, unquote(password)} if password else ():
        text = text.replace(secret, "***")
    return text


def _postgres_version(dsn: str) -> str:
    with psycopg.connect(dsn, connect_timeout=SERVER_TIMEOUT) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def _redis_version(url: str) -> str:
    client = redis.Redis.from_url(url, socket_connect_timeout=SERVER_TIMEOUT, socket_timeout=SERVER_TIMEOUT)
    try:
        return f"Redis {client.info('server')['redis_version']}"
    finally:
        client.close()


def _pushgateway_version(url: str) -> str:
    answer = httpx.get(f"{url.rstrip('/')}/api/v1/status", timeout=SERVER_TIMEOUT)
    answer.raise_for_status()
    return f"Pushgateway {answer.json()['data']['build_information']['version']}"


def pytest_report_header(config: pytest.Config) -> list[str]:
    """One line per test server: its version, or why it is missing or unreachable."""
    lines = []
    servers = (("pg_dsn", _postgres_version), ("redis_url", _redis_version), ("pushgateway_url", _pushgateway_version))
    for fixture, query in servers:
        _, env_var, name = SERVER_SETTINGS[fixture]
        url = _server_setting(config, fixture)
        if url is None:
            lines.append(f"test {name}: not configured (run `python3 tasks.py test`, or set {env_var})")
            continue
        where = urlsplit(url).netloc.rpartition("@")[2] or url
        try:
            lines.append(f"test {name}: {query(url)} at {where}")
        except Exception as exc:
            message = _without_password(url, f"{type(exc).__name__}: {exc}".strip())
            lines.append(f"test {name}: unreachable at {_without_password(url, where)}: {message}")
    return lines


@pytest.fixture
def fresh_db(pg_dsn: str, pg_admin_dsn: str) -> Iterator[str]:
    """DSN of a new, empty database owned by the test role, dropped afterwards (one stand-in run each)."""
    with created_database(pg_dsn, pg_admin_dsn) as dsn:
        yield dsn


@contextmanager
def created_database(pg_dsn: str, pg_admin_dsn: str) -> Iterator[str]:
    """Create a new, empty database owned by the test role; yield its DSN; drop it afterwards."""
    from psycopg import sql

    name = f"smoke_{uuid.uuid4().hex[:10]}"
    owner = psycopg.conninfo.conninfo_to_dict(pg_dsn)["user"]
    with psycopg.connect(pg_admin_dsn, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(str(owner))))
    try:
        yield psycopg.conninfo.make_conninfo(pg_dsn, dbname=name)
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True, connect_timeout=5) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def delete_keys(redis_url: str, prefix: str) -> None:
    """Delete every key under *prefix* (a stand-in's caches or counters) from the Redis at *redis_url*."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=SERVER_TIMEOUT, socket_timeout=SERVER_TIMEOUT)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def row_counts(dsn: str, tables: Iterable[str]) -> dict[str, int]:
    """How many rows each of *tables* holds: a production copy's checks must leave these as they were."""
    from psycopg import sql

    with psycopg.connect(dsn, connect_timeout=5) as conn:
        counts = {}
        for table in tables:
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            counts[table] = row[0] if row else 0
        return counts


def dsn_password(dsn: str) -> str:
    """The password in *dsn*, for tests that prove it never shows; with none to look for, they fail with the fix."""
    password = psycopg.conninfo.conninfo_to_dict(dsn).get("password")
    if not password:
        pytest.fail(
            "the test database's DSN has no password, so no test can see it leak: run `python3 tasks.py test`, "
            "or point DEPLOYSMOKE_TEST_DSN at a role that logs in with a password",
            pytrace=False,
        )
    return str(password)
