"""Production guard: who may write to a target."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pytest_deploysmoke.config.model import Target

#: HTTP methods that never write; anything else is a write.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
        return f"{action} blocked: target '{self.target}' is production and the test is not marked destructive"


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
