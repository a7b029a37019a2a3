"""The checks the plugin adds from a target's settings: ``deploysmoke::NAME``, first in their phase.

``required_env`` (preflight), ``[migrations]`` (migrations) and ``version`` / ``version_from``
(health) each become one such item, marked ``smoke`` and with its phase and checklist words, so
``-m``, ``-k``, ``--deploy-phase``, the gates and every report treat it like a check of the user's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pytest

from pytest_deploysmoke.config.model import Target
from pytest_deploysmoke.config.settings import RunSettings

NODEID_PREFIX = "deploysmoke::"


class BuiltinCheck(pytest.Item):
    """A check of the target's own settings, located at the config file that asked for it."""

    #: What the check reads, for its location line: ``required_env of target 'prod'``.
    about: str = ""

    def __init__(self, *, target: Target, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # A line, not None: pytest places a skip (behind a failed gate) at the item's location.
        return self.path, 0, self.about.format(target=self.target.name)


Check = TypeVar("Check", bound=BuiltinCheck)


def add(
    session: pytest.Session,
    settings: RunSettings,
    items: list[pytest.Item],
    kind: type[Check],
    *,
    name: str,
    phase: str,
    checklist: str,
    **kwargs: Any,
) -> Check:
    """Put a *kind* check named *name* first among *items*, in *phase* (else the first phase).

    It goes in before the items are ordered by phase (a stable sort), so it runs first in its phase.
    """
    check = kind.from_parent(
        session,
        name=name,
        nodeid=NODEID_PREFIX + name,
        path=settings.config.path or session.config.rootpath,
        target=settings.target,
        **kwargs,
    )
    phases = settings.config.phases
    check.add_marker(pytest.mark.phase(phase if phase in phases else phases[0], checklist=checklist))
    check.add_marker("smoke")
    items.insert(0, check)
    return check
