"""Migrations landed: each tool's own table, read through the read-only connection, as one-line findings.

What ``[targets.X.migrations]`` and ``db.assert_migrations(...)`` check.  Alembic is imported only
to read the head of a script directory (``script_location``), and only then; Django never is: its
migration files are listed, not imported.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import psycopg
import pytest
from psycopg import sql

from pytest_deploysmoke.config.model import MigrationSettings, MigrationTool, display_path
from pytest_deploysmoke.errors import unchecked


class Connection(Protocol):
    """What the readers use of ``clients.database.SmokeConnection``, which calls them (so no import cycle)."""

    @property
    def info(self) -> psycopg.ConnectionInfo: ...

    def execute(self, query: Any, params: Any = None) -> psycopg.Cursor[Any]: ...

    def scalar(self, query: Any, params: Sequence[Any] | None = None) -> Any: ...

    def missing_tables(self, names: Iterable[str], schema: str = "public") -> list[str]: ...

    def missing_columns(self, table: str, columns: Iterable[str], schema: str = "public") -> list[str]: ...


#: The table each tool keeps its applied migrations in.
TOOL_TABLES: Final[Mapping[str, str]] = {
    "alembic": "alembic_version",
    "django": "django_migrations",
    "flyway": "flyway_schema_history",
    "golang-migrate": "schema_migrations",
    "dbmate": "schema_migrations",
    "rails": "schema_migrations",
    "prisma": "_prisma_migrations",
    "liquibase": "databasechangelog",
}
#: The command that applies the migrations of the tools that share ``schema_migrations``'s one-row-per-version shape.
_UPGRADE: Final[Mapping[str, str]] = {"dbmate": "dbmate up", "rails": "bin/rails db:migrate"}
_DJANGO_FILE = re.compile(r"^\d{4}_\w+\.py$")
_VERSION_PARTS = re.compile(r"[._-]")


def settings_of(
    label: str,
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
) -> MigrationSettings:
    """The arguments of a ``db`` helper, checked as a ``[migrations]`` table is.

    Relative paths are relative to the working directory.

    Raises:
        ConfigError: an unknown tool, a key the tool does not take, or a missing required key.
    """
    from pytest_deploysmoke.config.parse import build_migrations, check_migrations

    given: dict[str, Any] = {
        "tool": tool,
        "revision": revision,
        "script_location": os.fspath(script_location) if script_location is not None else None,
        "apps": list(apps) if apps else None,
        "migrations_dir": os.fspath(migrations_dir) if migrations_dir is not None else None,
        "version": version,
        "schema": schema,
        "tables": list(tables) if tables else None,
        "columns": {name: list(cols) for name, cols in columns.items()} if columns else None,
    }
    table = {key: value for key, value in given.items() if value is not None}
    check_migrations(None, label, table)
    return build_migrations(table, Path.cwd())


def assert_landed(conn: Connection, settings: MigrationSettings) -> None:
    """Fail the running check with every finding of :func:`problems`, on one line."""
    __tracebackhide__ = True
    found = problems(conn, settings)
    if found:
        pytest.fail("; ".join(found), pytrace=False)


def problems(conn: Connection, settings: MigrationSettings) -> list[str]:
    """What has not landed, one line each: the tool's table, then the expected tables and columns.

    Raises:
        pytest.fail.Exception: the check could not read what to expect (alembic missing, a wrong folder).
    """
    schema = settings.schema or conn.scalar("SELECT current_schema()") or "public"
    found = []
    if settings.tool is not None:
        table = TOOL_TABLES[settings.tool]
        if conn.missing_tables([table], schema):
            found.append(
                f"{settings.tool}: table {table} does not exist in schema '{schema}' of database "
                f"'{conn.info.dbname}': the migrations never ran, or this is the wrong database or schema; "
                "check database_url and schema"
            )
        else:
            problem = _READERS[settings.tool](conn, sql.Identifier(schema, table), settings)
            if problem:
                found.append(f"{settings.tool}: {problem}")
    missing = conn.missing_tables(settings.tables, schema) if settings.tables else []
    if missing:
        found.append(
            f"missing tables in schema '{schema}': {', '.join(missing)} "
            f"(expected {', '.join(settings.tables)}); did the migrations run?"
        )
    for table, columns in settings.columns.items():
        if table in missing:
            continue
        if conn.missing_tables([table], schema):
            found.append(f"table '{schema}.{table}' does not exist; did the migrations run?")
            continue
        absent = conn.missing_columns(table, columns, schema)
        if absent:
            found.append(f"missing columns on {schema}.{table}: {', '.join(absent)}; did the migrations run?")
    return found


def version_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """*text* as a tuple that orders versions numerically: ``1.10`` after ``1.9``, ``2`` equal to ``2.0``."""
    parts: list[tuple[int, int | str]] = [
        (0, int(part)) if part.isdigit() else (1, part) for part in _VERSION_PARTS.split(text.strip()) if part
    ]
    while len(parts) > 1 and parts[-1] == (0, 0):
        parts.pop()
    return tuple(parts)


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


# --------------------------------------------------------------------------- the tools


def _alembic(conn: Connection, table: sql.Identifier, settings: MigrationSettings) -> str | None:
    rows = conn.execute(sql.SQL("SELECT version_num FROM {}").format(table)).fetchall()
    found = sorted(str(row[0]) for row in rows)
    at = f"is at {_quoted(found)}" if found else "is empty (no revision applied)"
    if settings.revision is not None:
        if found == [settings.revision]:
            return None
        return (
            f"alembic_version {at}, expected '{settings.revision}'; "
            "run alembic upgrade on this database, or fix revision"
        )
    assert settings.script_location is not None  # check_migrations requires one of the two
    heads, ancestors, docs = _alembic_scripts(settings.script_location)
    if found == sorted(heads):
        return None
    where = display_path(settings.script_location)
    head = f"the head of {where} is {_quoted(heads)}"
    if len(heads) > 1:
        head = f"the heads of {where} are {_quoted(heads)}"
    unknown = [revision for revision in found if revision not in ancestors]
    if unknown:
        return (
            f"alembic_version is at {_quoted(unknown)}, which {where} does not have ({head}); "
            "is the database ahead of this deploy's code, or is script_location wrong?"
        )
    applied = {ancestor for revision in found for ancestor in ancestors[revision]}
    pending = [f"{rev} ({docs[rev]})" if docs[rev] else rev for rev in ancestors if rev not in applied]
    return f"alembic_version {at} but {head}; not applied: {', '.join(pending)}; run alembic upgrade heads"


def _alembic_scripts(location: Path) -> tuple[list[str], dict[str, set[str]], dict[str, str]]:
    """The heads of the script directory; each revision's ancestors and itself, base first; each one's doc line."""
    where = display_path(location)
    try:
        from alembic.script import ScriptDirectory
    except ImportError:
        raise unchecked(
            "alembic: reading the head revision from script_location needs the alembic package, which is not "
            'installed; pip install alembic where pytest runs, or give revision = "..." instead'
        ) from None
    if not location.is_dir():
        raise unchecked(
            f"alembic: script_location {where} is not a folder; set it to the folder with env.py and versions/, "
            "relative to the config file"
        )
    try:
        script = ScriptDirectory(str(location))
        heads = list(script.get_heads())
        ancestors: dict[str, set[str]] = {}
        docs: dict[str, str] = {}
        for revision in reversed(list(script.walk_revisions())):
            ancestors[revision.revision] = {s.revision for s in script.iterate_revisions(revision.revision, "base")}
            docs[revision.revision] = _first_line(revision.doc)
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise unchecked(
            f"alembic: cannot read the revisions in {where}: {reason}; "
            "set script_location to the folder with env.py and versions/, relative to the config file"
        ) from None
    return heads, ancestors, docs


def _django(conn: Connection, table: sql.Identifier, settings: MigrationSettings) -> str | None:
    on_disk = _django_files(settings.migrations_dir, settings.apps) if settings.migrations_dir else {}
    apps = list(settings.apps) or sorted(on_disk)
    rows = conn.execute(
        sql.SQL("SELECT app, name FROM {} WHERE app = ANY(%s) ORDER BY id").format(table), (apps,)
    ).fetchall()
    applied: dict[str, list[str]] = {}
    for app, name in rows:
        applied.setdefault(app, []).append(name)
    if not on_disk:
        never = [app for app in apps if app not in applied]
        if never:
            return f"no migration of app {_quoted(never)} is applied; run manage.py migrate, or check apps"
        return None
    pending = [f"{app}.{name}" for app in apps for name in on_disk[app] if name not in applied.get(app, ())]
    if not pending:
        return None
    latest = ", ".join(f"{app}.{max(applied[app])}" for app in apps if app in applied) or "none"
    return f"not applied: {', '.join(pending)} (latest applied: {latest}); run manage.py migrate on this database"


def _django_files(folder: Path, apps: Sequence[str]) -> dict[str, list[str]]:
    """The migration names of each app (``0002_add_email``), from ``<folder>/<app>/migrations/``."""
    where = display_path(folder)
    fix = "set migrations_dir to the folder holding <app>/migrations/, relative to the config file"
    if not folder.is_dir():
        raise unchecked(f"django: migrations_dir {where} is not a folder; {fix}")
    if apps:
        folders = {app: folder / app / "migrations" for app in apps}
    else:
        folders = {path.parent.name: path for path in sorted(folder.glob("*/migrations")) if path.is_dir()}
    files = {}
    for app, migrations in folders.items():
        names = sorted(path.stem for path in migrations.glob("*.py") if _DJANGO_FILE.match(path.name))
        if not names:
            raise unchecked(
                f"django: no migration files (such as 0001_initial.py) for app '{app}' in {display_path(migrations)}; "
                f"{fix}"
            )
        files[app] = names
    if not files:
        raise unchecked(f"django: found no <app>/migrations/ folder in migrations_dir {where}; {fix}")
    return files


def _flyway(conn: Connection, table: sql.Identifier, settings: MigrationSettings) -> str | None:
    rows = conn.execute(
        sql.SQL("SELECT version, description, script, success FROM {} ORDER BY installed_rank").format(table)
    ).fetchall()
    failed = [
        f"{version} ({description})" if version else script for version, description, script, ok in rows if ok is False
    ]
    if failed:
        return (
            f"migration {', '.join(failed)} failed (success = false in flyway_schema_history); "
            "fix it, run flyway repair, then flyway migrate"
        )
    assert settings.version is not None  # check_migrations requires it
    versions = [str(version) for version, _, _, _ in rows if version]
    if not versions:
        return (
            f"no versioned migration in flyway_schema_history (expected at least {settings.version}); "
            "run flyway migrate"
        )
    latest = max(versions, key=version_key)
    if version_key(latest) < version_key(settings.version):
        return f"latest successful version is {latest}, expected at least {settings.version}; run flyway migrate"
    return None


def _golang_migrate(conn: Connection, table: sql.Identifier, settings: MigrationSettings) -> str | None:
    assert settings.version is not None  # check_migrations requires it
    row = conn.execute(sql.SQL("SELECT version, dirty FROM {}").format(table)).fetchone()
    if row is None:
        return f"schema_migrations is empty: no migration ran (expected version {settings.version}); run migrate up"
    version, dirty = str(row[0]), row[1]
    if dirty:
        return (
            f"version {version} is dirty (dirty = true in schema_migrations): it failed partway; "
            "fix the database by hand, then migrate force the last version that completed, and migrate up"
        )
    if version_key(version) < version_key(settings.version):
        return f"schema_migrations is at version {version}, expected at least {settings.version}; run migrate up"
    return None


def _version_rows(conn: Connection, table: sql.Identifier, settings: MigrationSettings) -> str | None:
    """dbmate and Rails: one row per applied version, and the expected one must be among them."""
    assert settings.tool is not None and settings.version is not None  # check_migrations requires them
    versions = [str(row[0]) for row in conn.execute(sql.SQL("SELECT version FROM {}").format(table)).fetchall()]
    wanted = version_key(settings.version)
    if any(version_key(version) == wanted for version in versions):
        return None
    latest = max(versions, key=version_key) if versions else "none"
    return (
        f"version {settings.version} is not in schema_migrations (latest applied: {latest}); "
        f"run {_UPGRADE[settings.tool]}"
    )


def _prisma(conn: Connection, table: sql.Identifier, settings: MigrationSettings) -> str | None:
    rows = conn.execute(
        sql.SQL(
            "SELECT migration_name, finished_at IS NOT NULL, rolled_back_at IS NOT NULL FROM {} ORDER BY started_at"
        ).format(table)
    ).fetchall()
    last: dict[str, tuple[bool, bool]] = {}
    landed = []
    for name, finished, rolled_back in rows:
        last[name] = (finished, rolled_back)
        if finished and not rolled_back:
            landed.append(name)
    # A migration resolved as rolled back and then applied again has a finished row after it.
    for name, (finished, rolled_back) in last.items():
        if rolled_back:
            return (
                f"migration {name} was rolled back (rolled_back_at is set in _prisma_migrations) "
                "and not applied again; run prisma migrate deploy"
            )
        if not finished:
            return (
                f"migration {name} did not finish (finished_at is null in _prisma_migrations); "
                "read its logs column, fix it, then prisma migrate resolve and deploy"
            )
    if settings.version is not None:
        if any(name == settings.version or name.startswith(settings.version + "_") for name in landed):
            return None
        latest = max(landed) if landed else "none"
        return (
            f"migration {settings.version} is not in _prisma_migrations (latest finished: {latest}); "
            "run prisma migrate deploy"
        )
    if not rows:
        return "_prisma_migrations is empty: no migration ran; run prisma migrate deploy"
    return None


def _liquibase(conn: Connection, table: sql.Identifier, settings: MigrationSettings) -> str | None:
    rows = conn.execute(
        sql.SQL("SELECT id, author, filename, exectype, tag FROM {} ORDER BY orderexecuted").format(table)
    ).fetchall()
    failed = [f"{id_}::{author} ({filename})" for id_, author, filename, exectype, _ in rows if exectype == "FAILED"]
    if failed:
        return (
            f"changeset {', '.join(failed)} failed (exectype FAILED in databasechangelog); "
            "fix it, then liquibase update"
        )
    if settings.version is not None:
        ran = [row for row in rows if row[3] in ("EXECUTED", "RERAN", "MARK_RAN")]
        if any(settings.version in (id_, tag) for id_, _, _, _, tag in ran):
            return None
        latest = f"{rows[-1][0]}::{rows[-1][1]}" if rows else "none"
        return (
            f"no changeset with id or tag '{settings.version}' in databasechangelog (latest: {latest}); "
            "run liquibase update"
        )
    if not rows:
        return "databasechangelog is empty: no changeset ran; run liquibase update"
    return None


_READERS: Final[Mapping[str, Callable[[Connection, sql.Identifier, MigrationSettings], str | None]]] = {
    "alembic": _alembic,
    "django": _django,
    "flyway": _flyway,
    "golang-migrate": _golang_migrate,
    "dbmate": _version_rows,
    "rails": _version_rows,
    "prisma": _prisma,
    "liquibase": _liquibase,
}
