"""Interruption: SIGTERM ends a run the way Ctrl-C does, so every report is still written.

CI runners send SIGTERM when a job is cancelled or times out.  Python's default for it ends the
process at once: no report, no verdict, launched services left running.  While a target is
selected, the controller turns the first SIGTERM into a KeyboardInterrupt, which pytest handles
as Ctrl-C (teardown, ``pytest_sessionfinish``, exit code 2); a second SIGTERM ends the process.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

import pytest


class TermAsInterrupt:
    """A plugin object that handles SIGTERM as Ctrl-C between ``pytest_configure`` and unconfigure."""

    def __init__(self) -> None:
        self.received = ""
        self._previous: Any = None
        self._installed = False

    def install(self) -> None:
        """Handle SIGTERM from now on (main thread only; a SIGTERM the caller ignores stays ignored)."""
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)
        if previous is signal.SIG_IGN:
            return
        self._previous = previous
        signal.signal(signal.SIGTERM, self._handle)
        self._installed = True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = "SIGTERM"
        self.uninstall()  # a second SIGTERM ends the process as it would without us
        raise KeyboardInterrupt("SIGTERM")

    def uninstall(self) -> None:
        """Put the previous SIGTERM handler back."""
        if self._installed:
            self._installed = False
            signal.signal(signal.SIGTERM, self._previous)

    def pytest_unconfigure(self) -> None:
        self.uninstall()


interruption_key = pytest.StashKey[TermAsInterrupt]()


def register(config: pytest.Config) -> None:
    """On the controller: handle SIGTERM as Ctrl-C for the rest of the run."""
    handler = config.stash[interruption_key] = TermAsInterrupt()
    handler.install()
    config.pluginmanager.register(handler, "deploysmoke-interruption")


def received_signal(config: pytest.Config) -> str:
    """``"SIGTERM"`` when a SIGTERM interrupted the run, else ""."""
    handler = config.stash.get(interruption_key, None)
    return handler.received if handler is not None else ""
