"""Call records: every request, query and command a check makes, timed and redacted."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from pytest_deploysmoke.budgets import Budget

CallKind = Literal["http", "ws", "db", "redis", "ui"]

#: The user property that carries a check's call records, as a JSON list of objects (it crosses
#: xdist's wire, and JUnit writes it as is).
#: It is set on the teardown report, the one ``--junitxml`` reads properties from, with every
#: call of the check, so each consumer finds all of them in one place.
CALLS_PROPERTY = "deploysmoke.calls"


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call to the target: what was done, what came back, and how long it took."""

    kind: CallKind
    action: str  # "GET /health", "SELECT count(*) FROM runs", "PING", "connect /ws/tickers"
    outcome: str  # "200", "connection refused", "blocked", "ok"
    ok: bool
    ms: float
    budget_ms: float | None = None
    attempt: int = 1
    target_ms: float | None = None  # a two-level budget's target: over it only warns
    write: bool = False  # it wrote to the target (a POST, a Redis SET, a page's form post)

    @classmethod
    def budgeted(
        cls,
        kind: CallKind,
        action: str,
        outcome: str,
        *,
        ok: bool,
        ms: float,
        budget: Budget | None,
        attempt: int = 1,
        write: bool = False,
    ) -> CallRecord:
        """A record that carries *budget*'s limit and target (None: the call had no budget)."""
        return cls(
            kind,
            action,
            outcome,
            ok=ok,
            ms=ms,
            budget_ms=budget.limit_ms if budget else None,
            attempt=attempt,
            target_ms=budget.target_ms if budget else None,
            write=write,
        )

    def as_dict(self) -> dict[str, Any]:
        """The record as plain JSON-able values."""
        return asdict(self)


@dataclass(slots=True)
class RecordLog:
    """The records of one check (setup, call and teardown), in call order."""

    records: list[CallRecord] = field(default_factory=list)


#: Further user properties of the teardown report: the check in checklist words, and the
#: version the target's health endpoint reported during the check.
CHECKLIST_PROPERTY = "deploysmoke.checklist"
REPORTED_VERSION_PROPERTY = "deploysmoke.reported_version"
#: A browser check's screenshot file, relative to the ticket's folder (only when a ticket is written).
SCREENSHOT_PROPERTY = "deploysmoke.screenshot"

records_key = pytest.StashKey[RecordLog]()
#: The version the target's health endpoint reported during this check, when it did.
reported_version_key = pytest.StashKey[str]()
current_item_key = pytest.StashKey["pytest.Item | None"]()

#: The calls of fixtures wider than one check (a login, a throwaway user), as a JSON object of
#: fixture name -> list of records, on whichever report comes next: they belong to no check.
FIXTURE_CALLS_PROPERTY = "deploysmoke.fixture_calls"
#: Cleanup that failed: one line each, naming what was left behind and how to purge it.
CLEANUP_PROPERTY = "deploysmoke.cleanup"


@dataclass(slots=True)
class FixtureLog:
    """Calls made while a fixture wider than one check sets up or cleans up, and cleanup that failed.

    They wait here until the next report carries them to the controller.
    """

    active: list[str] = field(default_factory=list)  # the fixtures now setting up or cleaning up, innermost last
    calls: dict[str, list[CallRecord]] = field(default_factory=dict)
    cleanup: list[str] = field(default_factory=list)

    def take(self) -> tuple[dict[str, list[CallRecord]], list[str]]:
        """The calls and cleanup lines kept so far, leaving none behind."""
        calls, cleanup = self.calls, self.cleanup
        self.calls, self.cleanup = {}, []
        return calls, cleanup


fixture_log_key = pytest.StashKey[FixtureLog]()


def fixture_log(config: pytest.Config) -> FixtureLog:
    """The run's fixture log, created on first use."""
    log = config.stash.get(fixture_log_key, None)
    if log is None:
        log = config.stash[fixture_log_key] = FixtureLog()
    return log


def enter_fixture(config: pytest.Config, name: str) -> None:
    """Record calls under fixture *name* until :func:`leave_fixture`, not under the running check."""
    fixture_log(config).active.append(name)


def leave_fixture(config: pytest.Config, name: str) -> None:
    """Stop recording under fixture *name* (no-op when it is not the innermost one)."""
    active = fixture_log(config).active
    if active and active[-1] == name:
        active.pop()


def note_cleanup_failure(config: pytest.Config, line: str) -> None:
    """Keep one line about cleanup that failed, for every report (it makes the verdict warn)."""
    fixture_log(config).cleanup.append(line)


def set_current_item(config: pytest.Config, item: pytest.Item | None) -> None:
    """Point recording at *item* (set around each test's run protocol)."""
    config.stash[current_item_key] = item


def current_item(config: pytest.Config) -> pytest.Item | None:
    """The check now running, or None outside of a check."""
    return config.stash.get(current_item_key, None)


def record(config: pytest.Config, call: CallRecord) -> None:
    """Keep *call* for the check now running, or for the wider fixture now setting up or cleaning up.

    Calls outside any check and any fixture are not kept.
    """
    log = config.stash.get(fixture_log_key, None)
    if log is not None and log.active:
        log.calls.setdefault(log.active[-1], []).append(call)
        return
    item = current_item(config)
    if item is not None:
        log_of(item).records.append(call)


def log_of(item: pytest.Item) -> RecordLog:
    """The item's record log, created on first use."""
    log = item.stash.get(records_key, None)
    if log is None:
        log = item.stash[records_key] = RecordLog()
    return log


def records_of(item: pytest.Item) -> list[CallRecord]:
    """Every call record of *item* so far."""
    log = item.stash.get(records_key, None)
    return list(log.records) if log else []
