"""Gating: per-phase outcomes, and skipping later phases once a gate phase failed.

In one process the rule is simple, because items run in phase order: when a check of a gate
phase fails, every check of a later phase is skipped at setup.

Under pytest-xdist the workers run in parallel, so a worker about to run a later-phase check
waits until every gate check before it has finished somewhere.  The controller sees every
report; it appends gate failures and finished gate checks to a small JSON-lines file whose
path it hands each worker through ``workerinput``.  Workers only read that file.  xdist keeps
at least two items queued on every worker (or shuts it down), so the gate checks a worker
waits for always get to run and the wait cannot deadlock.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_deploysmoke import guard, phases
from pytest_deploysmoke.config.settings import RunSettings
from pytest_deploysmoke.results import wire
from pytest_deploysmoke.results.verdict import PhaseOutcome, gate_failed, phase_outcome
from pytest_deploysmoke.run import plugins

#: Key of the shared gate file in xdist's ``workerinput``.
GATE_FILE_WORKERINPUT = "deploysmoke_gate_file"


@dataclass(frozen=True, slots=True)
class GateFailure:
    """The first failed check of a gate phase."""

    phase: str
    nodeid: str


@dataclass(slots=True)
class PhaseLedger:
    """Per-phase outcomes of the run, built from test reports (complete on the controller)."""

    phases: tuple[str, ...]
    gates: tuple[str, ...]
    _tests: dict[str, tuple[str, str]] = field(default_factory=dict)  # nodeid -> (phase, outcome)
    _gate_failures: dict[str, GateFailure] = field(default_factory=dict)

    def record(self, phase: str, report: pytest.TestReport) -> GateFailure | None:
        """Fold one report in; return the gate failure it causes, if it is the first of its phase."""
        if report.outcome not in ("passed", "failed", "skipped"):
            return None  # "rerun" and the like: only a test's final outcome counts
        outcome = report.outcome
        previous = self._tests.get(report.nodeid, (phase, "passed"))[1]
        self._tests[report.nodeid] = (phase, _worse(previous, outcome))
        if outcome == "failed" and phase in self.gates and phase not in self._gate_failures:
            failure = self._gate_failures[phase] = GateFailure(phase, report.nodeid)
            return failure
        return None

    def add_gate_failure(self, failure: GateFailure) -> None:
        """Take a gate failure seen elsewhere (another xdist worker)."""
        self._gate_failures.setdefault(failure.phase, failure)

    def outcome(self, phase: str) -> PhaseOutcome:
        """The phase's outcome: failed if any check failed, passed if any passed, else skipped."""
        return phase_outcome({o for p, o in self._tests.values() if p == phase})

    def outcomes(self) -> dict[str, PhaseOutcome]:
        """Every configured phase's outcome, in phase order."""
        return {phase: self.outcome(phase) for phase in self.phases}

    def counts(self, phase: str) -> dict[str, int]:
        """How many checks of *phase* passed, failed and were skipped."""
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        for p, o in self._tests.values():
            if p == phase:
                counts[o] += 1
        return counts

    def blocking_failure(self, phase: str) -> GateFailure | None:
        """The failed gate that stops *phase*: the earliest failed gate phase before it."""
        rank = self.phases.index(phase)
        for earlier in self.phases[:rank]:
            failure = self._gate_failures.get(earlier)
            if failure is not None:
                return failure
        return None

    @property
    def gate_failures(self) -> tuple[GateFailure, ...]:
        """Gate failures in phase order."""
        return tuple(self._gate_failures[p] for p in self.phases if p in self._gate_failures)


def _worse(a: str, b: str) -> str:
    order = ("passed", "skipped", "failed")
    return a if order.index(a) >= order.index(b) else b


phase_ledger_key = pytest.StashKey[PhaseLedger]()


def get_phase_ledger(config: pytest.Config) -> PhaseLedger | None:
    """Return the run's per-phase outcomes, or None when the plugin is inert."""
    return config.stash.get(phase_ledger_key, None)


def skip_reason(failure: GateFailure) -> str:
    """The reason shown on every check a failed gate skipped."""
    return gate_failed(failure.phase, failure.nodeid)


class Gatekeeper:
    """Orders checks by phase, applies the guard, records outcomes and skips behind failed gates."""

    def __init__(self, config: pytest.Config, settings: RunSettings) -> None:
        self.config = config
        self.settings = settings
        self.ledger = PhaseLedger(settings.config.phases, settings.config.gates)
        config.stash[phase_ledger_key] = self.ledger
        workerinput = getattr(config, "workerinput", None)
        shared = workerinput.get(GATE_FILE_WORKERINPUT) if workerinput else None
        self._worker_view: SharedGateView | None = SharedGateView(Path(shared), self.ledger) if shared else None
        self._shared_dir: Path | None = None  # the controller's, created for the first worker
        self._gate_items: dict[str, set[str]] = {}

    # ----------------------------------------------------------------- collection
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        known, default = self.settings.config.phases, self.settings.config.default_phase
        for item in items:
            phases.assign(item, known, default)
        phases.deselect_other_phases(config, items, self.settings.only_phases)
        phases.order(items, known)
        for item in items:
            if "smoke_user" in getattr(item, "fixturenames", ()):
                item.add_marker("destructive")  # registering a user writes to the target
            guard.apply(item, self.settings.target, allow_destructive=self.settings.target.allow_destructive)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        gates = self.settings.config.gates
        for item in session.items:
            phase = phases.get_phase(item)
            if phase is not None and phase.name in gates:
                self._gate_items.setdefault(phase.name, set()).add(item.nodeid)

    # ----------------------------------------------------------------- running
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        phase = phases.get_phase(item)
        if phase is None:
            return
        if self._worker_view is not None:
            rank = self.ledger.phases.index(phase.name)
            waiting_for = set().union(*(self._gate_items.get(p, set()) for p in self.ledger.phases[:rank]))
            self._worker_view.wait(phase.name, waiting_for)
        failure = self.ledger.blocking_failure(phase.name)
        if failure is not None:
            # Reported at the check's own location, as skip marks are (pytest's skipping.py does the same).
            raise pytest.skip.Exception(skip_reason(failure), _use_item_location=True)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        phase = wire.phase_of(report)
        if phase is None or phase not in self.ledger.phases:
            return
        failure = self.ledger.record(phase, report)
        if failure is not None and self._shared_dir is not None:
            self._share({"failed": failure.nodeid, "phase": failure.phase})

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        if self._shared_dir is not None:
            self._share({"done": nodeid})

    def pytest_unconfigure(self) -> None:
        if self._shared_dir is not None:
            shutil.rmtree(self._shared_dir, ignore_errors=True)

    # ----------------------------------------------------------------- xdist controller
    def shared_gate_file(self) -> Path:
        """The gate file the controller writes and hands to workers (created on first use)."""
        if self._shared_dir is None:
            self._shared_dir = Path(tempfile.mkdtemp(prefix="deploysmoke-gates-"))
            self.gate_file.touch()
        return self.gate_file

    @property
    def gate_file(self) -> Path:
        assert self._shared_dir is not None
        return self._shared_dir / "gates.jsonl"

    def _share(self, entry: dict[str, str]) -> None:
        with self.gate_file.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry) + "\n")


class XdistHooks:
    """xdist's hooks, registered only when xdist is active: hand the gate file to each worker."""

    def __init__(self, gatekeeper: Gatekeeper, port: int | None) -> None:
        self.gatekeeper = gatekeeper
        self.port = port

    def pytest_configure_node(self, node: Any) -> None:
        from pytest_deploysmoke.config.settings import PORT_WORKERINPUT

        node.workerinput[GATE_FILE_WORKERINPUT] = str(self.gatekeeper.shared_gate_file())
        if self.port is not None:
            node.workerinput[PORT_WORKERINPUT] = self.port


@dataclass(slots=True)
class SharedGateView:
    """A worker's read-only view of the controller's gate file."""

    path: Path
    ledger: PhaseLedger
    _done: set[str] = field(default_factory=set)
    _offset: int = 0

    def wait(self, phase: str, nodeids: Iterable[str]) -> None:
        """Block until *nodeids* have all finished, or a gate before *phase* has failed."""
        pending = set(nodeids)
        delay = 0.005
        while True:
            self._read()
            if self.ledger.blocking_failure(phase) is not None or pending <= self._done:
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _read(self) -> None:
        with self.path.open("rb") as stream:
            stream.seek(self._offset)
            chunk = stream.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in _lines(complete):
            entry = json.loads(line)
            if "done" in entry:
                self._done.add(entry["done"])
            elif "failed" in entry:
                self.ledger.add_gate_failure(GateFailure(entry["phase"], entry["failed"]))


def _lines(chunk: bytes) -> Sequence[bytes]:
    return [line for line in chunk.splitlines() if line.strip()]


def register(config: pytest.Config, settings: RunSettings) -> None:
    """Register the Gatekeeper, and its xdist hooks when xdist is loaded."""
    gatekeeper = Gatekeeper(config, settings)
    plugins.register(config, gatekeeper, "deploysmoke-gatekeeper")
    if config.pluginmanager.hasplugin("xdist"):
        plugins.register(config, XdistHooks(gatekeeper, settings.port), "deploysmoke-xdist")
