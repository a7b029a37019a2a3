"""Selection: which checks a run selected, out of how many it collected, and what narrowed it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_deploysmoke import phases
from pytest_deploysmoke.results.verdict import Selection
from pytest_deploysmoke.run import plugins

#: Key of a worker's selection in xdist's ``workeroutput``: workers collect, the controller does not.
SELECTION_WORKEROUTPUT = "deploysmoke_selection"


@dataclass(slots=True)
class SelectionTracker:
    """A plugin object that counts collected, deselected and selected checks (controller and workers)."""

    config: pytest.Config
    only_phases: tuple[str, ...]
    _selected: int | None = None
    _deselected: int = 0
    _narrowed_by: list[str] = field(default_factory=list)
    _last_failed: bool = False

    def pytest_sessionstart(self) -> None:
        # Read before the checks run: pytest's lfplugin forgets each failure that passes again.
        self._last_failed = self._last_failed_only()

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        checks = [item for item in items if self._is_check(item)]
        self._deselected += len(checks)
        for item in checks:
            phase = phases.get_phase(item)
            if self.only_phases and phase is not None and phase.name not in self.only_phases:
                self._narrow(f"--deploy-phase={','.join(self.only_phases)}")
            else:
                for why in self._deselecting_options():
                    self._narrow(why)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._selected = len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        if self._selected is None:
            self._selected = len(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        shared = getattr(node, "workeroutput", {}).get(SELECTION_WORKEROUTPUT)
        if isinstance(shared, dict) and not self._deselected:
            self._deselected = int(shared.get("deselected", 0))
            for why in shared.get("narrowed_by", []):
                self._narrow(str(why))

    def pytest_sessionfinish(self) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:  # hand the worker's view to the controller
            workeroutput[SELECTION_WORKEROUTPUT] = {"deselected": self._deselected, "narrowed_by": self._narrowed_by}

    def selection(self) -> Selection:
        """The run's selection as known now (complete from the controller's sessionfinish on)."""
        selected = self._selected or 0
        narrowed = list(self._narrowed_by)
        if any("::" in str(arg) for arg in self.config.args):
            narrowed.insert(0, "node ids")
        if self._last_failed:
            narrowed.insert(0, "--lf")
        if self._deselected and not narrowed:
            narrowed.append("deselected by a plugin")
        return Selection(selected, selected + self._deselected, tuple(narrowed))

    def _narrow(self, why: str) -> None:
        if why not in self._narrowed_by:
            self._narrowed_by.append(why)

    def _is_check(self, item: pytest.Item) -> bool:
        # ``-m smoke`` leaves out the tests that are not smoke checks at all: they were never checks.
        markexpr = str(self.config.option.markexpr or "").strip()
        return markexpr != "smoke" or item.get_closest_marker("smoke") is not None

    def _deselecting_options(self) -> list[str]:
        option = self.config.option
        found = []
        if option.keyword:
            found.append(f"-k {option.keyword}")
        markexpr = str(option.markexpr or "").strip()
        if markexpr and markexpr != "smoke":
            found.append(f"-m {markexpr}")
        if getattr(option, "deselect", None):
            found.append("--deselect")
        return found

    def _last_failed_only(self) -> bool:
        plugin = self.config.pluginmanager.get_plugin("lfplugin")
        return bool(getattr(plugin, "active", False) and getattr(plugin, "lastfailed", None))


selection_key = pytest.StashKey[SelectionTracker]()


def register(config: pytest.Config, only_phases: tuple[str, ...]) -> None:
    """Register the tracker (controller and workers) and keep it in the stash."""
    tracker = config.stash[selection_key] = SelectionTracker(config, only_phases)
    plugins.register(config, tracker, "deploysmoke-selection")


def get_selection(config: pytest.Config) -> Selection:
    """The run's selection, or an empty one when no tracker was registered."""
    tracker = config.stash.get(selection_key, None)
    return tracker.selection() if tracker is not None else Selection()
