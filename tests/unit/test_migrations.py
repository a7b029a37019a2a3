"""[targets.X.migrations]: validation at load, the settings it builds, and version ordering (no database)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_deploysmoke.clients.migrations import settings_of, version_key
from pytest_deploysmoke.config.model import MigrationSettings
from pytest_deploysmoke.config.parse import build_target, load_config
from pytest_deploysmoke.errors import ConfigError

HEAD = '[targets.prod]\nbase_url = "https://example.com"\ndatabase_url = "postgresql://smoke:pw@db/app"\n'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary rootdir that is also the working directory, so messages show relative paths."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def migrations_of(project: Path, table: str, head: str = HEAD) -> MigrationSettings | None:
    path = project / "deploysmoke.toml"
    path.write_text(head + "[targets.prod.migrations]\n" + textwrap.dedent(table), encoding="utf-8")
    return build_target(load_config(path), "prod", {}).migrations


def load_error(project: Path, table: str, head: str = HEAD) -> str:
    with pytest.raises(ConfigError) as excinfo:
        migrations_of(project, table, head)
    return str(excinfo.value)


def test_alembic_script_location_is_resolved_against_the_config_file(project: Path) -> None:
    """script_location and migrations_dir are relative to the config file, not to the working directory."""
    (project / "deploy").mkdir()
    path = project / "deploy" / "deploysmoke.toml"
    path.write_text(HEAD + '[targets.prod.migrations]\ntool = "alembic"\nscript_location = "../migrations"\n')
    settings = build_target(load_config(path), "prod", {}).migrations
    assert settings == MigrationSettings(tool="alembic", script_location=(project / "migrations").resolve())


def test_every_key_is_read(project: Path) -> None:
    """A Django table with tables and columns alongside gives typed, frozen settings."""
    settings = migrations_of(
        project,
        """
        tool = "django"
        apps = ["shop", "accounts"]
        migrations_dir = "src"
        schema = "app"
        tables = ["users"]
        columns = { users = ["id", "email"] }
        """,
    )
    assert settings == MigrationSettings(
        tool="django",
        apps=("shop", "accounts"),
        migrations_dir=(project / "src").resolve(),
        schema="app",
        tables=("users",),
        columns={"users": ("id", "email")},
    )


def test_a_whole_number_version_is_kept_as_text(project: Path) -> None:
    """version = 20240611120000 (a TOML integer) is the same as the string."""
    settings = migrations_of(project, 'tool = "golang-migrate"\nversion = 20240611120000\n')
    assert settings is not None and settings.version == "20240611120000"


def test_plain_tables_need_no_tool(project: Path) -> None:
    """tables and columns alone are the kifu way, without a tool."""
    settings = migrations_of(project, 'tables = ["users"]\n')
    assert settings == MigrationSettings(tables=("users",))


BAD_MIGRATIONS = [
    pytest.param(
        'tool = "flywya"\nversion = "3"\n',
        "deploysmoke.toml: [targets.prod.migrations] tool is 'flywya'; did you mean 'flyway'?",
        id="unknown-tool-suggests-close-match",
    ),
    pytest.param(
        'tool = "sqitch"\n',
        "deploysmoke.toml: [targets.prod.migrations] tool is 'sqitch'; known tools: alembic, django, flyway, "
        "golang-migrate, dbmate, rails, prisma, liquibase",
        id="unknown-tool-lists-known-tools",
    ),
    pytest.param(
        'tool = "flyway"\nrevision = "3"\n',
        "deploysmoke.toml: [targets.prod.migrations] revision is not a key of tool 'flyway'; did you mean 'version'?",
        id="key-of-another-tool-suggests-this-tools-key",
    ),
    pytest.param(
        'tool = "alembic"\nrevision = "a1"\napps = ["shop"]\n',
        "deploysmoke.toml: [targets.prod.migrations] apps is not a key of tool 'alembic'; "
        "its keys: revision, script_location",
        id="key-of-another-tool-lists-this-tools-keys",
    ),
    pytest.param(
        'tool = "alembic"\nrevison = "a1"\n',
        "deploysmoke.toml: [targets.prod.migrations] unknown key 'revison'; did you mean 'revision'?",
        id="misspelt-key-suggests-close-match",
    ),
    pytest.param(
        'tool = "alembic"\n',
        "deploysmoke.toml: [targets.prod.migrations] has tool 'alembic' but no revision or script_location; "
        'add revision = "<revision id>", or script_location = "migrations" (relative to the config file)',
        id="alembic-needs-revision-or-script-location",
    ),
    pytest.param(
        'tool = "alembic"\nrevision = "a1"\nscript_location = "migrations"\n',
        "deploysmoke.toml: [targets.prod.migrations] has both revision and script_location; "
        "give one: revision pins the revision, script_location reads the head from Alembic's scripts",
        id="alembic-takes-one-of-revision-and-script-location",
    ),
    pytest.param(
        'tool = "django"\n',
        "deploysmoke.toml: [targets.prod.migrations] has tool 'django' but no apps or migrations_dir; "
        'add apps = ["<app label>"], or migrations_dir = "." (the folder holding <app>/migrations/)',
        id="django-needs-apps-or-migrations-dir",
    ),
    pytest.param(
        'tool = "rails"\n',
        "deploysmoke.toml: [targets.prod.migrations] has tool 'rails' but no version; "
        'add version = "...", the latest migration of this deploy',
        id="rails-needs-version",
    ),
    pytest.param(
        'tool = "flyway"\nversion = 1.10\n',
        "deploysmoke.toml: [targets.prod.migrations] version is float 1.1; "
        'expected a version as a string, such as "1.10" or "20240611120000"',
        id="float-version-would-lose-its-zero",
    ),
    pytest.param(
        'version = "3"\n',
        "deploysmoke.toml: [targets.prod.migrations] has version but no tool; add tool = one of alembic, django, "
        "flyway, golang-migrate, dbmate, rails, prisma, liquibase",
        id="tool-key-without-tool",
    ),
    pytest.param(
        'schema = "app"\n',
        "deploysmoke.toml: [targets.prod.migrations] checks nothing; add tool = one of alembic, django, flyway, "
        'golang-migrate, dbmate, rails, prisma, liquibase, or tables = ["..."]',
        id="nothing-to-check",
    ),
    pytest.param(
        'columns = { users = "email" }\n',
        "deploysmoke.toml: [targets.prod.migrations] columns is a table; "
        'expected a table of column lists, such as { users = ["id", "email"] }',
        id="columns-must-be-lists",
    ),
    pytest.param(
        'tool = "prisma"\n',
        "deploysmoke.toml: [targets.prod.migrations] is set but the target has no database_url; "
        'add database_url = "postgresql://..." for the migrations check to read, or remove [migrations]',
        id="migrations-need-a-database-url",
    ),
]


def test_version_that_expands_to_nothing_is_missing(project: Path) -> None:
    """version = "${VAR:-}" with VAR unset is no version: an error when the target is built, not a check that always passes."""
    path = project / "deploysmoke.toml"
    path.write_text(HEAD + '[targets.prod.migrations]\ntool = "flyway"\nversion = "${MIGRATION:-}"\n')
    config = load_config(path)
    with pytest.raises(ConfigError) as excinfo:
        build_target(config, "prod", {})
    assert str(excinfo.value) == (
        "deploysmoke.toml: [targets.prod.migrations] has tool 'flyway' but no version; "
        'add version = "...", the latest migration of this deploy'
    )
    settings = build_target(config, "prod", {"MIGRATION": "1.10"}).migrations
    assert settings is not None and settings.version == "1.10"


@pytest.mark.parametrize(("table", "message"), BAD_MIGRATIONS)
def test_bad_migrations_table_is_one_line_naming_the_key_and_the_fix(project: Path, table: str, message: str) -> None:
    """An unknown tool, a key the tool does not take or a missing key is one line: where, what, what to do."""
    head = HEAD if "database_url" not in message else '[targets.prod]\nbase_url = "https://example.com"\n'
    assert load_error(project, table, head) == message


def test_helper_arguments_are_checked_like_the_table(project: Path) -> None:
    """db.assert_migrations(...) takes the table's keys, and a wrong one is the same one-line error."""
    with pytest.raises(ConfigError) as excinfo:
        settings_of("db.assert_migrations()", "dbmate", revision="x")
    assert str(excinfo.value) == (
        "db.assert_migrations() revision is not a key of tool 'dbmate'; did you mean 'version'?"
    )
    assert settings_of("db.assert_migrations()", "django", apps=("shop",), migrations_dir="src") == MigrationSettings(
        tool="django", apps=("shop",), migrations_dir=project / "src"
    )


@pytest.mark.parametrize(
    ("lower", "higher"),
    [("1.9", "1.10"), ("2", "10"), ("1.2.9", "1.3"), ("20240511000000", "20240611120000"), ("2_1", "2.2")],
)
def test_versions_compare_numerically(lower: str, higher: str) -> None:
    """Versions order by their numbers, part by part, not as text."""
    assert version_key(lower) < version_key(higher)


def test_trailing_zero_parts_do_not_count() -> None:
    """Flyway's 1.0 is version 1."""
    assert version_key("1.0") == version_key("1") == version_key("1.0.0")
