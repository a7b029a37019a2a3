"""Built-in migrations check: the target's ``[migrations]`` landed in its database."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_deploysmoke.config.model import MigrationSettings
from pytest_deploysmoke.config.settings import RunSettings, get_redactor
from pytest_deploysmoke.run import builtin


class MigrationsCheck(builtin.BuiltinCheck):
    """Fails, naming what is missing, failed or dirty, when the target's migrations have not landed."""

    about = "[migrations] of target '{target}'"

    def __init__(self, *, migrations: MigrationSettings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.migrations = migrations

    def runtest(self) -> None:
        from pytest_deploysmoke.clients import migrations
        from pytest_deploysmoke.clients.database import connect

        with connect(self.config, self.target, get_redactor(self.config)) as connection:
            migrations.assert_landed(connection, self.migrations)


def add_migrations_check(session: pytest.Session, settings: RunSettings, items: list[pytest.Item]) -> None:
    """Put the migrations check first in the migrations phase (else the first phase) when the target has one."""
    migrations = settings.target.migrations
    if migrations is not None:
        builtin.add(
            session,
            settings,
            items,
            MigrationsCheck,
            name="migrations",
            phase="migrations",
            checklist=f"Migrations landed ({migrations.tool or 'tables and columns'})",
            migrations=migrations,
        )
