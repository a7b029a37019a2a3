"""Exceptions raised by pytest-deploysmoke.

The hierarchy::

    DeploySmokeError            base of everything the plugin raises on purpose
    ├── ConfigError             deploysmoke.toml / options are wrong  -> usage error (exit 4)
    ├── MarkError               a phase or budget mark is malformed  -> collection error
    ├── GuardError              a write was blocked on a production target
    ├── BudgetExceeded          a call took longer than its budget
    ├── WebSocketError          a WebSocket did not open, closed early, or stayed silent
    └── TargetNotReady          [launch] or wait_ready gave up           -> the run stops

A check that could not check its data (no usable answer, too slow, a package missing) fails
with :func:`unchecked`, a one-line ``pytest.fail``; :func:`is_data_failure` tells it from wrong
data, which is what a ``rollback`` mark trips on.

Every message is one line: what was tried, what came back, what to fix.
Messages are redacted before they are built into an exception.
"""

from __future__ import annotations

from pathlib import Path

import pytest


class DeploySmokeError(Exception):
    """Base class of the errors pytest-deploysmoke raises on purpose."""


class ConfigError(DeploySmokeError):
    """The configuration or a command-line option is invalid."""

    def __init__(self, path: Path | str | None, key: str, problem: str, expected: str = "") -> None:
        self.path = path
        self.key = key
        self.problem = problem
        self.expected = expected
        super().__init__(self._render())

    def _render(self) -> str:
        head = " ".join(part for part in (self.key, self.problem) if part)
        if self.path and self.key:
            head = f"{self.path}: {head}"
        elif self.path:
            head = f"{self.path} {head}"
        return f"{head}; {self.expected}" if self.expected else head


class MarkError(DeploySmokeError, ValueError):
    """A ``phase`` or ``budget`` mark is malformed, or names an unknown phase."""


class GuardError(DeploySmokeError):
    """A write was attempted where the production guard forbids it."""


class TargetNotReady(DeploySmokeError):
    """A launched or remote target did not become ready in time."""


class BudgetExceeded(DeploySmokeError):
    """A call took longer than its latency budget allows."""


class WebSocketError(DeploySmokeError):
    """A WebSocket did not open, closed early, or sent nothing in time."""


class UiError(DeploySmokeError):
    """A browser check failed: the screen did not render, or its page logged errors."""


#: Set on the failures the plugin raises when a check could not check its data: no usable answer
#: (refused, timed out, the wrong status, a body that is not JSON, a condition never met), too slow,
#: or a setting or package missing.  A ``rollback`` mark does not trip on those, only on wrong data.
UNCHECKED = "deploysmoke_unchecked"


def unchecked(message: str) -> BaseException:
    """A one-line check failure (no traceback) for a check that could not check its data."""
    failure = pytest.fail.Exception(message, pytrace=False)
    setattr(failure, UNCHECKED, True)
    return failure


def is_data_failure(exc: BaseException) -> bool:
    """Whether *exc* says the service answered with wrong data: an ``assert``, ``pytest.fail`` in the
    check, a difference expect_json or expect_data found, a missing table or column; not a failure to
    get an answer (see :func:`unchecked`), nor an error in the check's code."""
    if isinstance(exc, DeploySmokeError) or getattr(exc, UNCHECKED, False):
        return False
    return isinstance(exc, (AssertionError, pytest.fail.Exception))
