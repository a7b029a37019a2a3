"""Hooks pytest-deploysmoke calls, for a team's conftest.py or plugin to implement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_deploysmoke.results.verdict import Verdict


@pytest.hookspec()
def pytest_deploysmoke_verdict(config: pytest.Config, verdict: Verdict) -> None:
    """Called once on the controller at the end of the run, after every check, with the verdict.

    Use it to post the verdict to a chat channel or to start a rollback job; return values are
    ignored.  ``verdict.decision`` is ``"GO"``, ``"GO with warnings"``, ``"NO-GO"``
    or ``"ROLLBACK"``; ``verdict.rollback``, ``verdict.reasons`` and ``verdict.warnings`` say why.
    Not called when no target is selected.
    """


@pytest.hookspec()
def pytest_deploysmoke_environment(config: pytest.Config) -> Mapping[str, str] | None:
    """Called once on the controller when the verdict is built; return rows for the environment table.

    Each implementation may return a mapping of row name to value (for example the deploy's
    pipeline URL), which the HTML report, the ticket and the JSON summary show beside the
    target, its versions and the runner; values are redacted like everything else.
    """
