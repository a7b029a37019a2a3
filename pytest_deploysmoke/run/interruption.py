"""Interruption: SIGTERM ends a run the way Ctrl-C does, so every report is still written.

CI runners send SIGTERM when a job is cancelled or times out.  Python's default for it ends the
process at once: no report, no verdict, launched services left running.  While a target is
selected, the controller turns the first SIGTERM into a KeyboardInterrupt, which pytest handles
as Ctrl-C (teardown, ``pytest_sessionfinish``, exit code 2); a second SIGTERM ends the process.
Under pytest-xdist the workers get SIGINT, as they would from Ctrl-C in a terminal: otherwise the
controller waits for a worker busy in a long check until execnet kills it (up to 20 s).
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any

import pytest

from pytest_deploysmoke.run import plugins


class TermAsInterrupt:
    """A plugin object that handles SIGTERM as Ctrl-C between ``pytest_configure`` and unconfigure."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
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
        for pid in _xdist_worker_pids(self.config):
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:  # already gone
                pass
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
    handler = config.stash[interruption_key] = TermAsInterrupt(config)
    handler.install()
    plugins.register(config, handler, "deploysmoke-interruption")


def received_signal(config: pytest.Config) -> str:
    """``"SIGTERM"`` when a SIGTERM interrupted the run, else ""."""
    handler = config.stash.get(interruption_key, None)
    return handler.received if handler is not None else ""


def _xdist_worker_pids(config: pytest.Config) -> list[int]:
    """The process ids of pytest-xdist's local workers, when it runs any (else an empty list)."""
    dsession = config.pluginmanager.get_plugin("dsession")
    group = getattr(getattr(dsession, "nodemanager", None), "group", None)
    pids = []
    for gateway in group or ():
        # execnet keeps a popen gateway's subprocess on its private IO object; there is no public
        # accessor, so anything unexpected here means "no worker to tell".
        pid = getattr(getattr(getattr(gateway, "_io", None), "popen", None), "pid", None)
        if isinstance(pid, int):
            pids.append(pid)
    return pids
