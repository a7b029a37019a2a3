"""Fixtures of the plugin's own tests: the stand-in service under uvicorn on loopback, and the
real PostgreSQL and Redis servers that ``python3 tasks.py test`` starts (see tools/devservices.py)."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpcore  # noqa: F401
import httpx
import psycopg
import pytest
import redis
import uvicorn

import pytest_deploysmoke

# Import every plugin module and client library up front.  pytester's in-process runs drop
# the modules first imported inside them, and the plugin imports most modules lazily; a
# module loaded again in a later run would hold new StashKeys (or new exception classes)
# while the objects already handed out still point at the old module.
for _module in pkgutil.walk_packages(pytest_deploysmoke.__path__, "pytest_deploysmoke."):
    importlib.import_module(_module.name)

APPS = Path(__file__).parent / "apps"

pytest_plugins = ["tests.fix_api"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedServer(uvicorn.Server):
    """uvicorn in a thread, as httpx's own tests serve their app."""

    def install_signal_handlers(self) -> None:  # the main thread keeps its handlers
        pass


@contextmanager
def serve_in_thread(app: Any, name: str, **options: Any) -> Iterator[str]:
    """Serve *app* with uvicorn in a thread on a free 127.0.0.1 port; yield its base URL."""
    port = _free_port()
    server = ThreadedServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the {name} server did not start within 10 s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a server a test started, by its PID: terminate, then kill if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def recorded_calls(reprec: pytest.HookRecorder, nodeid_part: str = "") -> list[dict[str, Any]]:
    """The call records (``deploysmoke.calls``) of the checks whose node id contains *nodeid_part*."""
    return [
        call
        for report in reprec.getreports("pytest_runtest_logreport")
        if nodeid_part in report.nodeid
        for name, value in report.user_properties
        if name == "deploysmoke.calls"
        for call in json.loads(value)
    ]


def recorded_fixture_calls(reprec: pytest.HookRecorder, fixture: str) -> list[dict[str, Any]]:
    """The calls fixture *fixture* (wider than a check) made while setting up and cleaning up."""
    return [
        call
        for report in reprec.getreports("pytest_runtest_logreport")
        for name, value in report.user_properties
        if name == "deploysmoke.fixture_calls"
        for call in json.loads(value).get(fixture, [])
    ]


@pytest.fixture
def sigint_reaches_children() -> Iterator[None]:
    """Let the processes a test starts take SIGINT as Ctrl-C, even when this run inherited it ignored.

    A job started in the background of a non-interactive shell ignores SIGINT, and so does every
    process it starts; a handled signal, unlike an ignored one, is reset to the default on exec.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def standin_url() -> Iterator[str]:
    """Base URL of the stand-in service, served by uvicorn in a thread on 127.0.0.1."""
    from tests.apps.standin import app

    with serve_in_thread(app, "stand-in") as url:
        yield url


@pytest.fixture(scope="session")
def tls_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The stand-in over HTTPS with a certificate from a throwaway CA that nothing trusts."""
    import trustme

    from tests.apps.standin import app

    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    key, chain = folder / "key.pem", folder / "chain.pem"
    certificate.private_key_pem.write_to_path(str(key))
    certificate.cert_chain_pems[0].write_to_path(str(chain))
    with serve_in_thread(app, "TLS stand-in", ssl_keyfile=str(key), ssl_certfile=str(chain)) as url:
        yield url.replace("http://", "https://")


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return _free_port()


@pytest.fixture(autouse=True)
def _quiet_asyncio_ini(request: pytest.FixtureRequest) -> None:
    """Give every pytester project an ini that settles pytest-asyncio's loop-scope warning."""
    if "pytester" in request.fixturenames:
        pytester: pytest.Pytester = request.getfixturevalue("pytester")
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


# -- real PostgreSQL and Redis ------------------------------------------------------------------
# As in psycopg's own tests (fix_db.py): the DSN comes from a pytest option or an environment
# variable, the option first.  ``python3 tasks.py test`` starts both servers and sets the
# variables; a missing one fails the tests that need it, with instructions, and never skips.

SERVER_SETTINGS = {
    "pg_dsn": ("--test-dsn", "DEPLOYSMOKE_TEST_DSN", "PostgreSQL"),
    "pg_admin_dsn": ("--test-admin-dsn", "DEPLOYSMOKE_TEST_ADMIN_DSN", "PostgreSQL (admin)"),
    "redis_url": ("--test-redis", "DEPLOYSMOKE_TEST_REDIS_URL", "Redis"),
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


def pytest_report_header(config: pytest.Config) -> list[str]:
    """One line per test server: its version, or why it is missing or unreachable."""
    lines = []
    for fixture, query in (("pg_dsn", _postgres_version), ("redis_url", _redis_version)):
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
    from psycopg import sql

    name = f"smoke_{uuid.uuid4().hex[:10]}"
    owner = psycopg.conninfo.conninfo_to_dict(pg_dsn)["user"]
    with psycopg.connect(pg_admin_dsn, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(str(owner))))
    yield psycopg.conninfo.make_conninfo(pg_dsn, dbname=name)
    with psycopg.connect(pg_admin_dsn, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def start_standin(
    argv: list[str], cwd: Path, env: dict[str, str], ready_url: str, log: Path
) -> subprocess.Popen[bytes]:
    """Start a stand-in by hand (as a deployed service runs: no [launch]) and wait until *ready_url* answers 200.

    The caller stops it with ``stop_process``.  Fails with the end of *log* if it exits or is not ready in 30 s.
    """
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"the stand-in did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


def row_counts(dsn: str, tables: Iterable[str]) -> dict[str, int]:
    """How many rows each of *tables* holds: a production copy's checks must leave these as they were."""
    from psycopg import sql

    with psycopg.connect(dsn, connect_timeout=5) as conn:
        counts = {}
        for table in tables:
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            counts[table] = row[0] if row else 0
        return counts
