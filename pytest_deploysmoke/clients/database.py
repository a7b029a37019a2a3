"""PostgreSQL: a read-only, timed psycopg 3 connection with the checks every migration list has."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg.rows import TupleRow

from pytest_deploysmoke.results.records import CallRecord, record

if TYPE_CHECKING:
    from pytest_deploysmoke.config.model import MigrationTool, Target
    from pytest_deploysmoke.config.redaction import Redactor

SQL_CHARS = 120


def sql_action(query: Any) -> str:
    """The statement as one short line, as records and messages show it."""
    text = query.as_string(None) if hasattr(query, "as_string") else str(query)
    flat = " ".join(text.split())
    return flat if len(flat) <= SQL_CHARS else flat[:SQL_CHARS] + " ..."


class RecordingCursor(psycopg.Cursor[TupleRow]):
    """A cursor whose every ``execute`` is timed and recorded on the running check."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> RecordingCursor:
        connection = self.connection
        assert isinstance(connection, SmokeConnection)
        started = time.perf_counter()
        try:
            super().execute(query, params, **kwargs)
        except psycopg.Error as exc:
            connection.note(query, type(exc).__name__, ok=False, elapsed=time.perf_counter() - started)
            raise
        rows = f"{self.rowcount} rows" if self.rowcount >= 0 else "ok"
        connection.note(query, rows, ok=True, elapsed=time.perf_counter() - started)
        return self


class SmokeConnection(psycopg.Connection[TupleRow]):
    """A psycopg connection in a read-only session, with table, column and scalar checks."""

    _deploysmoke_config: pytest.Config | None = None

    def note(self, query: Any, outcome: str, *, ok: bool, elapsed: float) -> None:
        """Record one statement on the running check."""
        if self._deploysmoke_config is not None:
            record(
                self._deploysmoke_config,
                CallRecord("db", sql_action(query), outcome, ok=ok, ms=elapsed * 1000),
            )

    def scalar(self, query: Any, params: Sequence[Any] | None = None) -> Any:
        """Run *query* and return the first column of its first row (None when no row)."""
        row = self.execute(query, params).fetchone()
        return row[0] if row else None

    def missing_tables(self, names: Iterable[str], schema: str = "public") -> list[str]:
        """Which of *names* do not exist as tables or views in *schema*."""
        wanted = list(names)
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name = ANY(%s)",
            (schema, wanted),
        ).fetchall()
        present = {row[0] for row in rows}
        return [name for name in wanted if name not in present]

    def missing_columns(self, table: str, columns: Iterable[str], schema: str = "public") -> list[str]:
        """Which of *columns* do not exist on *table* in *schema*."""
        wanted = list(columns)
        rows = self.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s AND column_name = ANY(%s)",
            (schema, table, wanted),
        ).fetchall()
        present = {row[0] for row in rows}
        return [name for name in wanted if name not in present]

    def assert_tables(self, *names: str, schema: str = "public") -> None:
        """Fail the check, naming them, when any of *names* is not a table in *schema*."""
        __tracebackhide__ = True
        missing = self.missing_tables(names, schema)
        if missing:
            pytest.fail(
                f"missing tables in schema '{schema}': {', '.join(missing)} "
                f"(expected {', '.join(names)}); did the migrations run?",
                pytrace=False,
            )

    def assert_columns(self, table: str, *columns: str, schema: str = "public") -> None:
        """Fail the check, naming them, when any of *columns* is missing on *table*."""
        __tracebackhide__ = True
        if self.missing_tables([table], schema):
            pytest.fail(f"table '{schema}.{table}' does not exist; did the migrations run?", pytrace=False)
        missing = self.missing_columns(table, columns, schema)
        if missing:
            pytest.fail(
                f"missing columns on {schema}.{table}: {', '.join(missing)}; did the migrations run?",
                pytrace=False,
            )

    def migration_problems(
        self,
        tool: MigrationTool | None = None,
        *,
        revision: str | None = None,
        script_location: str | os.PathLike[str] | None = None,
        apps: Sequence[str] = (),
        migrations_dir: str | os.PathLike[str] | None = None,
        version: str | int | None = None,
        schema: str | None = None,
        tables: Sequence[str] = (),
        columns: Mapping[str, Sequence[str]] | None = None,
    ) -> list[str]:
        """What has not landed, one line each (empty when everything has); the arguments are ``[migrations]``'s keys.

        Relative paths are relative to the working directory.  A wrong argument raises ConfigError; a
        check that cannot read what to expect (alembic missing, a wrong folder) fails it.
        """
        from pytest_deploysmoke.clients import migrations

        settings = migrations.settings_of(
            "db.migration_problems()",
            tool,
            revision=revision,
            script_location=script_location,
            apps=apps,
            migrations_dir=migrations_dir,
            version=version,
            schema=schema,
            tables=tables,
            columns=columns,
        )
        return migrations.problems(self, settings)

    def assert_migrations(
        self,
        tool: MigrationTool | None = None,
        *,
        revision: str | None = None,
        script_location: str | os.PathLike[str] | None = None,
        apps: Sequence[str] = (),
        migrations_dir: str | os.PathLike[str] | None = None,
        version: str | int | None = None,
        schema: str | None = None,
        tables: Sequence[str] = (),
        columns: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Fail the check, naming what has not landed, as the built-in ``[migrations]`` check does with these keys."""
        __tracebackhide__ = True
        from pytest_deploysmoke.clients import migrations

        settings = migrations.settings_of(
            "db.assert_migrations()",
            tool,
            revision=revision,
            script_location=script_location,
            apps=apps,
            migrations_dir=migrations_dir,
            version=version,
            schema=schema,
            tables=tables,
            columns=columns,
        )
        migrations.assert_landed(self, settings)


def connect(config: pytest.Config, target: Target, redactor: Redactor) -> SmokeConnection:
    """Open the target's database read-only, with connect and statement timeouts from its timeout."""
    assert target.database_url is not None
    dsn = target.database_url.reveal()
    options = (
        f"-c default_transaction_read_only=on -c statement_timeout={int(target.timeout * 1000)} "
        "-c application_name=deploysmoke"
    )
    started = time.perf_counter()
    failure: psycopg.OperationalError | None = None
    try:
        connection = SmokeConnection.connect(
            dsn,
            autocommit=True,
            connect_timeout=max(1, math.ceil(target.timeout)),
            options=options,
            cursor_factory=RecordingCursor,
        )
    except psycopg.OperationalError as exc:
        failure = exc  # raised below, outside the handler, so the report shows no chained traceback
    if failure is not None:
        elapsed = (time.perf_counter() - started) * 1000
        from pytest_deploysmoke.config.redaction import redact_url

        shown = redact_url(dsn)
        reason = _reason(failure)
        record(config, CallRecord("db", f"connect {shown}", reason, ok=False, ms=elapsed))
        message = f"connect to {shown} failed after {elapsed:.0f} ms: {reason}; {_hint(failure)}"
        raise pytest.fail.Exception(redactor.redact(message), pytrace=False)
    connection._deploysmoke_config = config
    record(config, CallRecord("db", "connect", "ok", ok=True, ms=(time.perf_counter() - started) * 1000))
    return connection


def _reason(exc: BaseException) -> str:
    """libpq's own reason, without its "connection to server at ... failed:" preamble."""
    lines = str(exc).strip().splitlines()
    if not lines:
        return type(exc).__name__
    reason = lines[0].rsplit("failed:", 1)[-1].strip().removeprefix("FATAL:")
    return " ".join(reason.split())


def _hint(exc: BaseException) -> str:
    text = str(exc).lower()
    if "password authentication failed" in text:
        return "check the user and password in database_url"
    if "connection refused" in text:
        return "is the database up, and are host and port in database_url right?"
    if "timeout" in text or "timed out" in text:
        return "is the database reachable from the runner (firewall, VPN)?"
    if "does not exist" in text:
        return "check the database name and user in database_url"
    return "check database_url"
