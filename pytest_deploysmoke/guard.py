"""Production guard: who may write to a target, decided per check at collection and enforced at runtime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

import pytest

from pytest_deploysmoke.config.model import Target
from pytest_deploysmoke.errors import GuardError
from pytest_deploysmoke.results.records import CallKind, CallRecord, current_item, record

#: What the runtime guard's refusal says to do: the mark and the option that let a check write on production.
FIX_BLOCKED = "mark it destructive and pass --allow-destructive to let it write"
#: HTTP methods that never write; anything else is a write.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Redis commands that only read; on production every other command needs a destructive, allowed check.
REDIS_READ_COMMANDS = frozenset(
    """
    PING ECHO GET MGET GETRANGE STRLEN EXISTS TTL PTTL EXPIRETIME PEXPIRETIME TYPE DBSIZE INFO TIME
    SCAN SSCAN HSCAN ZSCAN KEYS RANDOMKEY OBJECT MEMORY
    HGET HMGET HGETALL HKEYS HVALS HLEN HEXISTS HSTRLEN HRANDFIELD
    LRANGE LLEN LINDEX LPOS SMEMBERS SISMEMBER SMISMEMBER SCARD SRANDMEMBER SINTER SUNION SDIFF
    ZRANGE ZRANGEBYSCORE ZRANGEBYLEX ZREVRANGE ZREVRANGEBYSCORE ZSCORE ZMSCORE ZCARD ZCOUNT ZRANK ZREVRANK
    XLEN XRANGE XREVRANGE XINFO XPENDING PFCOUNT BITCOUNT GETBIT BITPOS
    SUBSCRIBE PSUBSCRIBE SSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE SUNSUBSCRIBE PUBSUB
    """.split()
)


def reads_only(target: Target, method: str, path: str) -> bool:
    """Whether a request cannot write: a safe method, or one of the target's ``read_only_requests``."""
    return method in SAFE_METHODS or f"{method} {path}" in target.read_only_requests


@dataclass(frozen=True, slots=True)
class GuardDecision:
    """Whether one check may run and may write to the target, and why not."""

    target: str
    destructive: bool
    may_run: bool
    may_write: bool
    reason: str = ""
    production: bool = False

    @property
    def writes_production(self) -> bool:
        """Whether the check runs on production with writes allowed (destructive, and allowed)."""
        return self.production and self.may_write

    def blocked(self, action: str) -> str:
        """The message a runtime guard raises for *action* (``POST /x``, ``SET key``)."""
        return (
            f"{action} blocked: target '{self.target}' is production and the test is not marked destructive "
            f"({FIX_BLOCKED})"
        )


guard_key = pytest.StashKey[GuardDecision]()


def decide(target: Target, *, destructive: bool, allow_destructive: bool) -> GuardDecision:
    """Decide whether a check may run and write: the one place the production rule lives.

    Off production everything may write.  On production a check may write only when it is
    marked destructive and destructive checks are allowed; a destructive check that is not
    allowed does not run at all.
    """
    if not target.production:
        return GuardDecision(target.name, destructive, may_run=True, may_write=True)
    if destructive and not allow_destructive:
        return GuardDecision(
            target.name,
            destructive,
            may_run=False,
            may_write=False,
            reason=f"destructive check not run: target '{target.name}' is production "
            "(pass --allow-destructive or set allow_destructive = true to run it)",
            production=True,
        )
    return GuardDecision(target.name, destructive, may_run=True, may_write=destructive, production=True)


def apply(item: pytest.Item, target: Target, *, allow_destructive: bool) -> GuardDecision:
    """Stash the item's decision; skip a destructive check the guard blocks."""
    destructive = item.get_closest_marker("destructive") is not None
    decision = decide(target, destructive=destructive, allow_destructive=allow_destructive)
    item.stash[guard_key] = decision
    if not decision.may_run:
        item.add_marker(pytest.mark.skip(reason=decision.reason))
    return decision


def get_decision(item: pytest.Item) -> GuardDecision | None:
    """Return the guard decision made at collection, or None when the plugin is inert."""
    return item.stash.get(guard_key, None)


@final
@dataclass(frozen=True, slots=True)
class ProductionGuard:
    """The run's one runtime guard: every client asks it before a write, and it refuses the writes the check
    may not make.

    Like pytest-django's ``DjangoDbBlocker``, it is one object in ``config.stash``; what it applies is the
    check's :class:`GuardDecision`, made at collection.  It knows which calls write, records a refused one
    as ``blocked`` and raises the one :class:`~pytest_deploysmoke.errors.GuardError`.
    """

    config: pytest.Config
    target: Target

    def request_writes(self, method: str, path: str | None) -> bool:
        """Whether an HTTP request writes: not a safe method, nor one of the target's ``read_only_requests``.

        *path* is None for a URL that is not on the target, where only the safe methods read.
        """
        if path is None:
            return method not in SAFE_METHODS
        return not reads_only(self.target, method, path)

    def command_writes(self, command: str) -> bool:
        """Whether a Redis command writes: anything but the read commands."""
        return command.upper() not in REDIS_READ_COMMANDS

    def check_write(
        self, kind: CallKind, action: str, *, named: str | None = None, item: pytest.Item | None = None
    ) -> None:
        """Refuse a write that the check may not make: record it as ``blocked``, raise GuardError; nothing is sent.

        *action* is what the call record shows (``POST /items``, ``SET flags:v2``); *named* what the
        message names when that differs (``SET``).  *item* is the check when the caller holds it, else
        the one running now; outside a check every write is let through.
        """
        if item is None:
            item = current_item(self.config)
        decision = get_decision(item) if item is not None else None
        if decision is None or decision.may_write:
            return
        record(self.config, CallRecord(kind, action, "blocked", ok=False, ms=0.0))
        raise GuardError(decision.blocked(named or action))


production_guard_key = pytest.StashKey[ProductionGuard]()


def install(config: pytest.Config, target: Target) -> ProductionGuard:
    """Put the run's runtime guard in the config's stash (on the controller and on every worker)."""
    guard = config.stash[production_guard_key] = ProductionGuard(config, target)
    return guard


def get_guard(config: pytest.Config) -> ProductionGuard:
    """The run's runtime guard; the clients exist only when a target is selected, and with it the guard."""
    return config.stash[production_guard_key]
