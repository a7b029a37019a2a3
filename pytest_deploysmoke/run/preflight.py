"""Built-in preflight check: the environment variables a target requires are set."""

from __future__ import annotations

import os

import pytest

from pytest_deploysmoke.config.settings import RunSettings
from pytest_deploysmoke.errors import unchecked
from pytest_deploysmoke.run import builtin


class RequiredEnvCheck(builtin.BuiltinCheck):
    """Fails when any name in the target's ``required_env`` is unset or empty."""

    about = "required_env of target '{target}'"

    def runtest(self) -> None:
        missing = [name for name in self.target.required_env if not os.environ.get(name)]
        if missing:
            raise unchecked(
                f"required environment not set or empty: {', '.join(missing)} "
                f"(required_env of target '{self.target.name}'); set them in the runner's environment"
            )


def add_required_env_check(session: pytest.Session, settings: RunSettings, items: list[pytest.Item]) -> None:
    """Put the required_env check first, in the preflight phase, when the target lists any names."""
    if settings.target.required_env:
        builtin.add(
            session,
            settings,
            items,
            RequiredEnvCheck,
            name="required_env",
            phase="preflight",
            checklist="Required environment variables are set",
        )
