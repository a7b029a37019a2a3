"""Built-in migrations check: the target's ``[migrations]`` landed in its database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_deploysmoke.config.model import MigrationSettings, Target
from pytest_deploysmoke.config.settings import RunSettings, get_redactor

MIGRATIONS_NODEID = "deploysmoke::migrations"


class MigrationsCheck(pytest.Item):
    """Fails, naming what is missing, failed or dirty, when the target's migrations have not landed."""

    def __init__(self, *, target: Target, settings: MigrationSettings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target
        self.settings = settings

    def runtest(self) -> None:
        from pytest_deploysmoke.clients import migrations
        from pytest_deploysmoke.clients.database import connect

        with connect(self.config, self.target, get_redactor(self.config)) as connection:
            migrations.assert_landed(connection, self.settings)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"[migrations] of target '{self.target.name}'"


def add_migrations_check(session: pytest.Session, settings: RunSettings, items: list[pytest.Item]) -> None:
    """Put the migrations check first in the migrations phase (else the first phase) when the target has one."""
    migrations = settings.target.migrations
    if migrations is None:
        return
    check = MigrationsCheck.from_parent(
        session,
        name="migrations",
        nodeid=MIGRATIONS_NODEID,
        path=settings.config.path or session.config.rootpath,
        target=settings.target,
        settings=migrations,
    )
    phases = settings.config.phases
    phase = "migrations" if "migrations" in phases else phases[0]
    landed = migrations.tool or "tables and columns"
    check.add_marker(pytest.mark.phase(phase, checklist=f"Migrations landed ({landed})"))
    check.add_marker("smoke")
    items.insert(0, check)
