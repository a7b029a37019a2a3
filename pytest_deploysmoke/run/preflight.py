"""Built-in preflight check: the environment variables a target requires are set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_deploysmoke.config.settings import RunSettings
from pytest_deploysmoke.errors import unchecked

REQUIRED_ENV_NODEID = "deploysmoke::required_env"


class RequiredEnvCheck(pytest.Item):
    """Fails when any name in the target's ``required_env`` is unset or empty."""

    def __init__(self, *, names: tuple[str, ...], target: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.names = names
        self.target_name = target

    def runtest(self) -> None:
        missing = [name for name in self.names if not os.environ.get(name)]
        if missing:
            raise unchecked(
                f"required environment not set or empty: {', '.join(missing)} "
                f"(required_env of target '{self.target_name}'); set them in the runner's environment"
            )

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"required_env of target '{self.target_name}'"


def add_required_env_check(session: pytest.Session, settings: RunSettings, items: list[pytest.Item]) -> None:
    """Put the required_env check first, in the first phase, when the target lists any names."""
    names = settings.target.required_env
    if not names:
        return
    check = RequiredEnvCheck.from_parent(
        session,
        name="required_env",
        nodeid=REQUIRED_ENV_NODEID,
        path=settings.config.path or session.config.rootpath,
        names=names,
        target=settings.target.name,
    )
    phase = "preflight" if "preflight" in settings.config.phases else settings.config.phases[0]
    check.add_marker(pytest.mark.phase(phase, checklist="Required environment variables are set"))
    check.add_marker("smoke")
    items.insert(0, check)
