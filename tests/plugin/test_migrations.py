"""The built-in migrations check and db.assert_migrations against a real PostgreSQL, one fresh database each.

Alembic's and Django's tables are made by Alembic and Django themselves; the other tools' by their
documented DDL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import alembic.script  # noqa: F401  # before any pytester run: one dropped after it would not import twice cleanly
import psycopg
import pytest

from tests.fix_pytester import recorded_calls
from tests.fix_services import dsn_password


@pytest.fixture
def dsn(pg_dsn: str, fresh_db: str) -> str:
    """The URL of a new, empty database (``postgresql://smoke:...@host:port/smoke_...``), dropped afterwards."""
    name = psycopg.conninfo.conninfo_to_dict(fresh_db)["dbname"]
    return urlunsplit(urlsplit(pg_dsn)._replace(path=f"/{name}"))


@pytest.fixture
def project(pytester: pytest.Pytester, dsn: str, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester project whose target 't' reads the fresh database from $SMOKE_DSN."""
    monkeypatch.setenv("SMOKE_DSN", dsn)
    return pytester


def configure(project: pytest.Pytester, migrations: str) -> None:
    project.makefile(
        ".toml",
        deploysmoke='[targets.t]\nbase_url = "http://127.0.0.1:9"\ntimeout = 3.0\ndatabase_url = "${SMOKE_DSN}"\n\n'
        "[targets.t.migrations]\n" + textwrap.dedent(migrations),
    )


def run_sql(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        for statement in statements:
            conn.execute(statement)


def check_fails(project: pytest.Pytester, dsn: str, message: str) -> None:
    """The run fails the built-in check with exactly *message*, and never shows the password."""
    result = project.runpytest("--deploy-target=t", "-m", "smoke")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAILED deploysmoke::migrations - *"])
    assert message in result.stdout.lines, result.stdout.str()
    assert dsn_password(dsn) not in result.stdout.str() + result.stderr.str()


def check_passes(project: pytest.Pytester) -> list[str]:
    """The run passes the built-in check; the statements it recorded, in order."""
    reprec = project.inline_run("--deploy-target=t", "-m", "smoke")
    reprec.assertoutcome(passed=1)
    return [call["action"] for call in recorded_calls(reprec, "deploysmoke::migrations")]


# --------------------------------------------------------------------------- Alembic, run by Alembic

ALEMBIC_ENV = """\
import os

import psycopg
import sqlalchemy
from alembic import context

dsn = os.environ["ALEMBIC_DSN"]
engine = sqlalchemy.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn), poolclass=sqlalchemy.pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""
ALEMBIC_REVISIONS = {
    "a1_create_users.py": (
        "a1",
        None,
        "create users",
        "op.create_table('users', sa.Column('id', sa.Integer, primary_key=True))",
    ),
    "b2_add_email.py": ("b2", "a1", "add email to users", "op.add_column('users', sa.Column('email', sa.Text))"),
}


def alembic_scripts(folder: Path, revisions: dict[str, tuple[str, str | None, str, str]] = ALEMBIC_REVISIONS) -> Path:
    """A script directory (env.py, versions/) with *revisions*: file name -> (revision, down revision, doc, upgrade)."""
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    (folder / "env.py").write_text(ALEMBIC_ENV)
    for name, (revision, down, doc, upgrade) in revisions.items():
        (folder / "versions" / name).write_text(
            f'"""{doc}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
            f"revision = {revision!r}\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
            f"def upgrade():\n    {upgrade}\n\n\ndef downgrade():\n    pass\n"
        )
    return folder


def alembic_upgrade(scripts: Path, dsn: str, revision: str) -> None:
    """``alembic upgrade REVISION``, run by Alembic's CLI in a subprocess against *dsn*."""
    ini = scripts.parent / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {scripts}\n")
    env = {**os.environ, "ALEMBIC_DSN": dsn}
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", revision], env=env, check=True, capture_output=True
    )


def test_alembic_at_head_passes_and_records_its_statements(project: pytest.Pytester, dsn: str) -> None:
    """alembic_version at the head of the script directory passes; the connect and each statement are recorded."""
    alembic_upgrade(alembic_scripts(project.path / "migrations"), dsn, "head")
    configure(project, 'tool = "alembic"\nscript_location = "migrations"\n')
    actions = check_passes(project)
    assert actions == [
        "connect",
        "SELECT current_schema()",
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name = ANY(%s)",
        'SELECT version_num FROM "public"."alembic_version"',
    ]


def test_alembic_behind_head_names_the_unapplied_revision(project: pytest.Pytester, dsn: str) -> None:
    """A database one revision behind the scripts fails naming the revision found and the one not applied."""
    alembic_upgrade(alembic_scripts(project.path / "migrations"), dsn, "a1")
    configure(project, 'tool = "alembic"\nscript_location = "migrations"\n')
    check_fails(
        project,
        dsn,
        "alembic: alembic_version is at 'a1' but the head of migrations is 'b2'; "
        "not applied: b2 (add email to users); run alembic upgrade heads",
    )


def test_alembic_pinned_revision(project: pytest.Pytester, dsn: str) -> None:
    """revision pins what alembic_version must hold: the pinned one passes, another fails naming both."""
    alembic_upgrade(alembic_scripts(project.path / "migrations"), dsn, "a1")
    configure(project, 'tool = "alembic"\nrevision = "a1"\n')
    check_passes(project)
    configure(project, 'tool = "alembic"\nrevision = "b2"\n')
    check_fails(
        project,
        dsn,
        "alembic: alembic_version is at 'a1', expected 'b2'; run alembic upgrade on this database, or fix revision",
    )


def test_alembic_with_two_heads_wants_both(project: pytest.Pytester, dsn: str) -> None:
    """With two branches, both heads must be in alembic_version; one missing is named."""
    branch = {"c3_add_orders.py": ("c3", "a1", "add orders", "op.create_table('orders', sa.Column('id', sa.Integer))")}
    scripts = alembic_scripts(project.path / "migrations", {**ALEMBIC_REVISIONS, **branch})
    configure(project, 'tool = "alembic"\nscript_location = "migrations"\n')
    alembic_upgrade(scripts, dsn, "b2")
    check_fails(
        project,
        dsn,
        "alembic: alembic_version is at 'b2' but the heads of migrations are 'b2', 'c3'; "
        "not applied: c3 (add orders); run alembic upgrade heads",
    )
    alembic_upgrade(scripts, dsn, "heads")
    check_passes(project)


def test_alembic_revision_the_scripts_lack(project: pytest.Pytester, dsn: str) -> None:
    """A database at a revision the deploy's scripts do not have says so, rather than guessing."""
    scripts = alembic_scripts(project.path / "migrations")
    alembic_upgrade(scripts, dsn, "head")
    (scripts / "versions" / "b2_add_email.py").unlink()
    configure(project, 'tool = "alembic"\nscript_location = "migrations"\n')
    check_fails(
        project,
        dsn,
        "alembic: alembic_version is at 'b2', which migrations does not have (the head of migrations is 'a1'); "
        "is the database ahead of this deploy's code, or is script_location wrong?",
    )


def test_alembic_script_location_that_is_not_a_folder(project: pytest.Pytester, dsn: str) -> None:
    """A wrong script_location fails in one line that says what to set."""
    run_sql(dsn, "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
    configure(project, 'tool = "alembic"\nscript_location = "alembic"\n')
    check_fails(
        project,
        dsn,
        "alembic: script_location alembic is not a folder; set it to the folder with env.py and versions/, "
        "relative to the config file",
    )


def test_alembic_not_installed(project: pytest.Pytester, dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the alembic package, script_location fails in one line that offers revision instead."""
    alembic_upgrade(alembic_scripts(project.path / "migrations"), dsn, "head")
    monkeypatch.setitem(sys.modules, "alembic.script", None)  # what `import` sees when alembic is not installed
    configure(project, 'tool = "alembic"\nscript_location = "migrations"\n')
    check_fails(
        project,
        dsn,
        "alembic: reading the head revision from script_location needs the alembic package, which is not "
        'installed; pip install alembic where pytest runs, or give revision = "..." instead',
    )


# --------------------------------------------------------------------------- Django, run by Django

DJANGO_SETTINGS = """\
import os
from psycopg.conninfo import conninfo_to_dict

_db = conninfo_to_dict(os.environ["DJANGO_DSN"])
SECRET_KEY = "not-a-secret"
INSTALLED_APPS = ["shop"]
USE_TZ = True
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db["dbname"],
        "USER": _db["user"],
        "PASSWORD": _db.get("password", ""),
        "HOST": _db["host"],
        "PORT": _db["port"],
    }
}
"""
DJANGO_MIGRATIONS = {
    "0001_initial.py": """\
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [migrations.CreateModel(name="Order", fields=[("id", models.AutoField(primary_key=True))])]
""",
    "0002_order_email.py": """\
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]
    operations = [migrations.AddField(model_name="order", name="email", field=models.TextField(default=""))]
""",
}


@pytest.fixture
def django_project(project: pytest.Pytester) -> Path:
    """A Django project with app ``shop`` and its two migrations, in the pytester project."""
    root = project.path
    (root / "djsettings.py").write_text(DJANGO_SETTINGS)
    migrations = root / "shop" / "migrations"
    migrations.mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "models.py").write_text("")
    (migrations / "__init__.py").write_text("")
    for name, body in DJANGO_MIGRATIONS.items():
        (migrations / name).write_text(body)
    return root


def django_migrate(root: Path, dsn: str, *target: str) -> None:
    """``manage.py migrate [app migration]``, run by Django in a subprocess against *dsn*."""
    env = {**os.environ, "DJANGO_DSN": dsn, "DJANGO_SETTINGS_MODULE": "djsettings", "PYTHONPATH": str(root)}
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", *target], cwd=root, env=env, check=True, capture_output=True
    )


def test_django_all_migrations_applied_passes(project: pytest.Pytester, django_project: Path, dsn: str) -> None:
    """Every migration file of the app is in django_migrations: the check passes."""
    django_migrate(django_project, dsn)
    configure(project, 'tool = "django"\napps = ["shop"]\nmigrations_dir = "."\n')
    assert 'SELECT app, name FROM "public"."django_migrations" WHERE app = ANY(%s) ORDER BY id' in check_passes(project)


def test_django_unapplied_migration_is_named(project: pytest.Pytester, django_project: Path, dsn: str) -> None:
    """A migration file not in django_migrations fails naming it and the latest applied."""
    django_migrate(django_project, dsn, "shop", "0001")
    configure(project, 'tool = "django"\nmigrations_dir = "."\n')
    check_fails(
        project,
        dsn,
        "django: not applied: shop.0002_order_email (latest applied: shop.0001_initial); "
        "run manage.py migrate on this database",
    )


def test_django_app_without_applied_migrations(project: pytest.Pytester, django_project: Path, dsn: str) -> None:
    """With apps only, an app with no applied migration is named."""
    django_migrate(django_project, dsn)
    configure(project, 'tool = "django"\napps = ["shop", "billing"]\n')
    check_fails(project, dsn, "django: no migration of app 'billing' is applied; run manage.py migrate, or check apps")


def test_django_migrations_never_ran(project: pytest.Pytester, dsn: str) -> None:
    """No django_migrations table: the migrations never ran, or the database or schema is wrong."""
    configure(project, 'tool = "django"\napps = ["shop"]\n')
    name = urlsplit(dsn).path.lstrip("/")
    check_fails(
        project,
        dsn,
        f"django: table django_migrations does not exist in schema 'public' of database '{name}': "
        "the migrations never ran, or this is the wrong database or schema; check database_url and schema",
    )


def test_django_migrations_dir_without_the_app(project: pytest.Pytester, dsn: str) -> None:
    """A migrations_dir without the app's migrations folder fails in one line that says what to set."""
    run_sql(dsn, "CREATE TABLE django_migrations (id serial PRIMARY KEY, app text, name text, applied timestamptz)")
    (project.path / "src" / "shop").mkdir(parents=True)
    configure(project, 'tool = "django"\napps = ["shop"]\nmigrations_dir = "src"\n')
    check_fails(
        project,
        dsn,
        "django: no migration files (such as 0001_initial.py) for app 'shop' in src/shop/migrations; "
        "set migrations_dir to the folder holding <app>/migrations/, relative to the config file",
    )


# --------------------------------------------------------------------------- the others, by their documented DDL

FLYWAY_DDL = """CREATE TABLE {schema}flyway_schema_history (
    installed_rank integer PRIMARY KEY, version varchar(50), description varchar(200) NOT NULL,
    type varchar(20) NOT NULL, script varchar(1000) NOT NULL, checksum integer, installed_by varchar(100) NOT NULL,
    installed_on timestamp NOT NULL DEFAULT now(), execution_time integer NOT NULL, success boolean NOT NULL)"""


def flyway_row(rank: int, version: str, description: str, *, success: bool = True) -> str:
    script = f"V{version.replace('.', '_')}__{description.replace(' ', '_')}.sql"
    return (
        "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, installed_by, "
        f"execution_time, success) VALUES ({rank}, '{version}', '{description}', 'SQL', '{script}', 'ci', 5, {success})"
    )


FLYWAY = [
    FLYWAY_DDL.format(schema=""),
    flyway_row(1, "1", "create users"),
    flyway_row(2, "1.9", "add email"),
    flyway_row(3, "1.10", "add orders"),
]
GOLANG_MIGRATE = "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
DBMATE = "CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY)"
RAILS = [
    "CREATE TABLE schema_migrations (version character varying NOT NULL PRIMARY KEY)",
    "CREATE TABLE ar_internal_metadata (key character varying NOT NULL PRIMARY KEY, value character varying, "
    "created_at timestamp(6) NOT NULL, updated_at timestamp(6) NOT NULL)",
]
PRISMA = """CREATE TABLE _prisma_migrations (
    id varchar(36) PRIMARY KEY, checksum varchar(64) NOT NULL, finished_at timestamptz, migration_name varchar(255) NOT NULL,
    logs text, rolled_back_at timestamptz, started_at timestamptz NOT NULL DEFAULT now(),
    applied_steps_count integer NOT NULL DEFAULT 0)"""


def prisma_row(n: int, name: str, *, finished: bool = True, rolled_back: bool = False) -> str:
    return (
        "INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, rolled_back_at) "
        f"VALUES ('{n}', 'c{n}', '{name}', now() + interval '{n} seconds', "
        f"{'now()' if finished else 'NULL'}, {'now()' if rolled_back else 'NULL'})"
    )


LIQUIBASE = """CREATE TABLE databasechangelog (
    id varchar(255) NOT NULL, author varchar(255) NOT NULL, filename varchar(255) NOT NULL,
    dateexecuted timestamp NOT NULL, orderexecuted integer NOT NULL, exectype varchar(10) NOT NULL,
    md5sum varchar(35), description varchar(255), comments varchar(255), tag varchar(255), liquibase varchar(20),
    contexts varchar(255), labels varchar(255), deployment_id varchar(10))"""


def liquibase_row(order: int, id_: str, *, exectype: str = "EXECUTED", tag: str | None = None) -> str:
    return (
        "INSERT INTO databasechangelog (id, author, filename, dateexecuted, orderexecuted, exectype, tag) "
        f"VALUES ('{id_}', 'alice', 'db/changelog.xml', now(), {order}, '{exectype}', "
        f"{repr(tag) if tag else 'NULL'})"
    )


@dataclass(frozen=True)
class Case:
    """A database state made by DDL, the [migrations] table, and the message (None: the check passes)."""

    statements: list[str]
    migrations: str
    message: str | None


CASES = {
    "flyway-at-least-numerically": Case(FLYWAY, 'tool = "flyway"\nversion = "1.10"\n', None),
    "flyway-older-than-expected": Case(
        FLYWAY,
        'tool = "flyway"\nversion = "1.11"\n',
        "flyway: latest successful version is 1.10, expected at least 1.11; run flyway migrate",
    ),
    "flyway-failed-migration": Case(
        [*FLYWAY, flyway_row(4, "2", "add streaks", success=False)],
        'tool = "flyway"\nversion = "1.9"\n',
        "flyway: migration 2 (add streaks) failed (success = false in flyway_schema_history); "
        "fix it, run flyway repair, then flyway migrate",
    ),
    "golang-migrate-at-least": Case(
        [GOLANG_MIGRATE, "INSERT INTO schema_migrations VALUES (12, false)"],
        'tool = "golang-migrate"\nversion = 9\n',
        None,
    ),
    "golang-migrate-dirty": Case(
        [GOLANG_MIGRATE, "INSERT INTO schema_migrations VALUES (12, true)"],
        'tool = "golang-migrate"\nversion = 12\n',
        "golang-migrate: version 12 is dirty (dirty = true in schema_migrations): it failed partway; "
        "fix the database by hand, then migrate force the last version that completed, and migrate up",
    ),
    "golang-migrate-behind": Case(
        [GOLANG_MIGRATE, "INSERT INTO schema_migrations VALUES (9, false)"],
        'tool = "golang-migrate"\nversion = "12"\n',
        "golang-migrate: schema_migrations is at version 9, expected at least 12; run migrate up",
    ),
    "dbmate-present": Case(
        [DBMATE, "INSERT INTO schema_migrations VALUES ('20240510090000'), ('20240611120000')"],
        'tool = "dbmate"\nversion = "20240510090000"\n',
        None,
    ),
    "dbmate-missing": Case(
        [DBMATE, "INSERT INTO schema_migrations VALUES ('20240510090000')"],
        'tool = "dbmate"\nversion = "20240611120000"\n',
        "dbmate: version 20240611120000 is not in schema_migrations (latest applied: 20240510090000); run dbmate up",
    ),
    "rails-present": Case(
        [*RAILS, "INSERT INTO schema_migrations VALUES ('20240510090000'), ('20240611120000')"],
        'tool = "rails"\nversion = "20240611120000"\n',
        None,
    ),
    "rails-missing": Case(
        [*RAILS, "INSERT INTO schema_migrations VALUES ('20240510090000')"],
        'tool = "rails"\nversion = "20240611120000"\n',
        "rails: version 20240611120000 is not in schema_migrations (latest applied: 20240510090000); "
        "run bin/rails db:migrate",
    ),
    "prisma-all-finished-and-a-rollback-reapplied": Case(
        [
            PRISMA,
            prisma_row(1, "20240510090000_init"),
            prisma_row(2, "20240611120000_add_email", finished=False, rolled_back=True),
            prisma_row(3, "20240611120000_add_email"),
        ],
        'tool = "prisma"\nversion = "20240611120000"\n',
        None,
    ),
    "prisma-unfinished": Case(
        [PRISMA, prisma_row(1, "20240510090000_init"), prisma_row(2, "20240611120000_add_email", finished=False)],
        'tool = "prisma"\n',
        "prisma: migration 20240611120000_add_email did not finish (finished_at is null in _prisma_migrations); "
        "read its logs column, fix it, then prisma migrate resolve and deploy",
    ),
    "prisma-rolled-back": Case(
        [PRISMA, prisma_row(1, "20240510090000_init"), prisma_row(2, "20240611120000_add_email", rolled_back=True)],
        'tool = "prisma"\n',
        "prisma: migration 20240611120000_add_email was rolled back (rolled_back_at is set in _prisma_migrations) "
        "and not applied again; run prisma migrate deploy",
    ),
    "liquibase-changeset-present": Case(
        [LIQUIBASE, liquibase_row(1, "1"), liquibase_row(2, "2", tag="v2.0")],
        'tool = "liquibase"\nversion = "v2.0"\n',
        None,
    ),
    "liquibase-changeset-missing": Case(
        [LIQUIBASE, liquibase_row(1, "1"), liquibase_row(2, "2")],
        'tool = "liquibase"\nversion = "3"\n',
        "liquibase: no changeset with id or tag '3' in databasechangelog (latest: 2::alice); run liquibase update",
    ),
    "liquibase-failed-changeset": Case(
        [LIQUIBASE, liquibase_row(1, "1"), liquibase_row(2, "2", exectype="FAILED")],
        'tool = "liquibase"\n',
        "liquibase: changeset 2::alice (db/changelog.xml) failed (exectype FAILED in databasechangelog); "
        "fix it, then liquibase update",
    ),
    "tables-and-columns-present": Case(
        ["CREATE TABLE users (id serial PRIMARY KEY, email text)"],
        'tables = ["users"]\ncolumns = { users = ["id", "email"] }\n',
        None,
    ),
    "tables-and-columns-missing": Case(
        ["CREATE TABLE users (id serial PRIMARY KEY)"],
        'tables = ["users", "orders"]\ncolumns = { users = ["id", "email"] }\n',
        "missing tables in schema 'public': orders (expected users, orders); did the migrations run?; "
        "missing columns on public.users: email; did the migrations run?",
    ),
    "tool-and-tables-alongside": Case(
        [DBMATE, "INSERT INTO schema_migrations VALUES ('20240510090000')"],
        'tool = "dbmate"\nversion = "20240510090000"\ntables = ["users"]\n',
        "missing tables in schema 'public': users (expected users); did the migrations run?",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_tool_table_is_read(project: pytest.Pytester, dsn: str, case: Case) -> None:
    """Each tool's own table, as the tool leaves it: landed passes, anything else fails naming the migration."""
    run_sql(dsn, *case.statements)
    configure(project, case.migrations)
    if case.message is None:
        check_passes(project)
    else:
        check_fails(project, dsn, case.message)


def test_tool_table_in_its_own_schema(project: pytest.Pytester, dsn: str) -> None:
    """schema names where the tool keeps its table; the default schema then does not have it."""
    run_sql(dsn, "CREATE SCHEMA flyway", FLYWAY_DDL.format(schema="flyway."))
    run_sql(dsn, *(row.replace("INTO flyway_", "INTO flyway.flyway_") for row in FLYWAY[1:]))
    configure(project, 'tool = "flyway"\nversion = "1.10"\nschema = "flyway"\n')
    check_passes(project)
    configure(project, 'tool = "flyway"\nversion = "1.10"\n')
    check_fails(
        project,
        dsn,
        f"flyway: table flyway_schema_history does not exist in schema 'public' of database '{urlsplit(dsn).path[1:]}': "
        "the migrations never ran, or this is the wrong database or schema; check database_url and schema",
    )


# --------------------------------------------------------------------------- the check in a run


def test_failed_migrations_gate_the_later_phases(project: pytest.Pytester, dsn: str) -> None:
    """The check is in the migrations phase, a gate: when it fails the later phases are not run."""
    run_sql(dsn, GOLANG_MIGRATE, "INSERT INTO schema_migrations VALUES (3, true)")
    configure(project, 'tool = "golang-migrate"\nversion = "3"\n')
    project.makepyfile(
        test_x="import pytest\n\n@pytest.mark.phase('preflight')\ndef test_env():\n    pass\n\n"
        "@pytest.mark.phase('health')\ndef test_health():\n    pass\n"
    )
    result = project.runpytest("--deploy-target=t", "-m", "smoke", "-v")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*test_env PASSED*", "*deploysmoke::migrations FAILED*", "*test_health SKIPPED*"], consecutive=False
    )
    result.stdout.fnmatch_lines(["*gate 'migrations' failed (deploysmoke::migrations); later phases not run*"])


def test_built_in_checks_behind_a_failed_preflight_are_skipped_with_their_reason(
    project: pytest.Pytester, dsn: str
) -> None:
    """A failed required_env gate skips the migrations and version checks; -rs reports each at its location."""
    configure(project, 'tool = "dbmate"\nversion = "1"\n')
    toml = project.path / "deploysmoke.toml"
    toml.write_text(
        toml.read_text().replace("timeout = 3.0\n", 'timeout = 3.0\nversion = "1.0"\nrequired_env = ["NOT_SET_X"]\n')
    )
    result = project.runpytest("--deploy-target=t", "-m", "smoke", "-rs")
    assert result.ret == 1
    result.assert_outcomes(failed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]2[]] deploysmoke.toml:1: gate 'preflight' failed (deploysmoke::required_env); later phases not run"
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_check_goes_to_the_first_phase_without_a_migrations_phase(project: pytest.Pytester, dsn: str) -> None:
    """With phases that have no migrations phase, the check runs in the first one."""
    run_sql(dsn, DBMATE, "INSERT INTO schema_migrations VALUES ('1')")
    configure(project, 'tool = "dbmate"\nversion = "1"\n')
    project.path.joinpath("deploysmoke.toml").write_text(
        'phases = ["health", "features"]\n' + project.path.joinpath("deploysmoke.toml").read_text()
    )
    project.makepyfile(test_x="import pytest\n\n@pytest.mark.phase('features')\ndef test_feature():\n    pass\n")
    result = project.runpytest("--deploy-target=t", "-m", "smoke", "-v", "--deploy-phase=health")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*deploysmoke::migrations PASSED*"])


def test_check_runs_under_xdist(project: pytest.Pytester, dsn: str) -> None:
    """Under pytest-xdist the check runs once, on a worker, and still fails naming the migration."""
    run_sql(dsn, DBMATE, "INSERT INTO schema_migrations VALUES ('1')")
    configure(project, 'tool = "dbmate"\nversion = "2"\n')
    result = project.runpytest("--deploy-target=t", "-m", "smoke", "-n", "2")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*dbmate: version 2 is not in schema_migrations (latest applied: 1); run dbmate up*"])


def test_target_without_database_url_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """[migrations] on a target without database_url stops the run before collection."""
    pytester.makefile(
        ".toml",
        deploysmoke='[targets.t]\nbase_url = "http://127.0.0.1:9"\n\n[targets.t.migrations]\ntool = "prisma"\n',
    )
    result = pytester.runpytest("--deploy-target=t")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*deploysmoke.toml: [[]targets.t.migrations[]] is set but the target has no database_url; "
            'add database_url = "postgresql://..." for the migrations check to read, or remove [[]migrations[]]'
        ]
    )


def test_no_check_without_migrations_table(project: pytest.Pytester) -> None:
    """A target without [migrations] gets no built-in migrations check."""
    project.makefile(
        ".toml", deploysmoke='[targets.t]\nbase_url = "http://127.0.0.1:9"\ndatabase_url = "${SMOKE_DSN}"\n'
    )
    project.makepyfile(test_x="def test_x():\n    pass\n")
    result = project.runpytest("--deploy-target=t", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*deploysmoke::migrations*")


# --------------------------------------------------------------------------- the db helpers in a user's check


def test_db_helpers_in_a_users_own_check(project: pytest.Pytester, dsn: str) -> None:
    """assert_migrations and migration_problems take [migrations]'s keys in a check of one's own."""
    run_sql(dsn, GOLANG_MIGRATE, "INSERT INTO schema_migrations VALUES (7, false)", "CREATE TABLE users (id int)")
    project.makefile(
        ".toml", deploysmoke='[targets.t]\nbase_url = "http://127.0.0.1:9"\ndatabase_url = "${SMOKE_DSN}"\n'
    )
    project.makepyfile(
        test_db="""
        import pytest

        @pytest.mark.phase("migrations")
        def test_landed(db):
            db.assert_migrations("golang-migrate", version=7, tables=["users"], columns={"users": ["id"]})
            assert db.migration_problems("golang-migrate", version="8") == [
                "golang-migrate: schema_migrations is at version 7, expected at least 8; run migrate up"
            ]

        @pytest.mark.phase("migrations")
        def test_not_landed(db):
            db.assert_migrations("golang-migrate", version=8)

        @pytest.mark.phase("migrations")
        def test_wrong_argument(db):
            db.assert_migrations("golang-migrate", revision="8")
        """
    )
    reprec = project.inline_run("--deploy-target=t", "-m", "smoke", "--deploy-phase=migrations")
    failures = {r.nodeid.split("::")[1]: str(r.longrepr) for r in reprec.getfailures()}
    assert failures == {
        "test_not_landed": "golang-migrate: schema_migrations is at version 7, expected at least 8; run migrate up",
        "test_wrong_argument": "db.assert_migrations() revision is not a key of tool 'golang-migrate'; "
        "did you mean 'version'?",
    }
    assert 'SELECT version, dirty FROM "public"."schema_migrations"' in [
        call["action"] for call in recorded_calls(reprec, "test_landed")
    ]
