"""Checklist phases: the ``phase`` mark, the implied ``smoke`` mark, ordering and selection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke.errors import MarkError

if TYPE_CHECKING:
    from pytest_deploysmoke.perf.budgets import Budget

MARKERS = (
    "smoke: a post-deploy smoke check (implied by the phase mark); select with -m smoke",
    "phase(name, *, checklist=None): assign the test to a checklist phase "
    "(preflight, migrations, health, auth, features, performance, monitoring by default)",
    "destructive: the check writes to the target; not run on a production target unless --allow-destructive",
    "budget(limit) or budget(target, limit): a latency budget for every call of the check, "
    "e.g. budget('500ms') or budget('500ms', '1s')",
    "rollback(rule): when the check fails on its data (assert, pytest.fail, expect_json), the verdict is ROLLBACK, "
    "not only NO-GO, e.g. rollback('data integrity')",
)

#: Why a smoke check is skipped when the plugin is inert.
NO_TARGET_REASON = "no deploy target selected (use --deploy-target)"

mark_budget_key = pytest.StashKey["Budget | None"]()


@dataclass(frozen=True, slots=True)
class PhaseMark:
    """The checklist phase of one check, and its checklist wording when given."""

    name: str
    checklist: str | None = None


phase_key = pytest.StashKey[PhaseMark]()


def _phase_args(name: str, *, checklist: str | None = None) -> PhaseMark:
    if not isinstance(name, str):
        raise TypeError(f"phase name must be a string, got {type(name).__name__} {name!r}")
    if checklist is not None and not isinstance(checklist, str):
        raise TypeError(f"checklist must be a string, got {type(checklist).__name__}")
    return PhaseMark(name=name, checklist=checklist)


def read_phase(item: pytest.Item, known: Sequence[str], default: str) -> PhaseMark:
    """Return the item's phase from its closest ``phase`` mark, or *default*.

    Raises:
        MarkError: the mark's arguments are wrong or the phase is not in *known*.
    """
    mark = item.get_closest_marker("phase")
    if mark is None:
        return PhaseMark(name=default)
    try:
        phase = _phase_args(*mark.args, **mark.kwargs)
    except TypeError as exc:
        problem = str(exc).replace("_phase_args() ", "")
        raise MarkError(f"{item.nodeid}: invalid @pytest.mark.phase: {problem}") from None
    if phase.name not in known:
        raise MarkError(
            f"{item.nodeid}: unknown phase '{phase.name}' in @pytest.mark.phase; configured phases: {', '.join(known)}"
        )
    return phase


def budget_of(item: pytest.Item) -> Budget | None:
    """The budget of the item's ``budget`` mark, or None; read once per check and kept in its stash.

    Raises:
        MarkError: the mark cannot be read (collection reports it before any check runs).
    """
    if mark_budget_key not in item.stash:
        from pytest_deploysmoke.perf.budgets import budget_from_mark

        mark = item.get_closest_marker("budget")
        try:
            item.stash[mark_budget_key] = budget_from_mark(*mark.args, **mark.kwargs) if mark else None
        except (TypeError, ValueError) as exc:
            raise MarkError(f"{item.nodeid}: invalid @pytest.mark.budget: {exc}") from None
    return item.stash[mark_budget_key]


def _rollback_args(rule: str) -> str:
    """The ``rollback`` mark's signature: called with the mark's arguments, as pytest-django validates its marks."""
    if not isinstance(rule, str) or not rule.strip():
        raise TypeError(f"the rule must be a non-empty string such as 'data integrity', got {rule!r}")
    return rule.strip()


def rollback_rule(item: pytest.Item) -> str:
    """The rule of the item's ``rollback`` mark, or "" without one; MarkError when the mark cannot be read."""
    mark = item.get_closest_marker("rollback")
    if mark is None:
        return ""
    try:
        return _rollback_args(*mark.args, **mark.kwargs)
    except TypeError as exc:
        raise MarkError(f"{item.nodeid}: invalid @pytest.mark.rollback: {exc}") from None


def assign(item: pytest.Item, known: Sequence[str], default: str) -> PhaseMark:
    """Read the item's phase and keep it in ``item.stash``."""
    phase = item.stash.get(phase_key, None)
    if phase is None:
        phase = item.stash[phase_key] = read_phase(item, known, default)
    return phase


def get_phase(item: pytest.Item) -> PhaseMark | None:
    """Return the phase assigned at collection, or None when the plugin is inert."""
    return item.stash.get(phase_key, None)


def imply_smoke(item: pytest.Item) -> None:
    """A test with a ``phase`` mark is a smoke test: give it the ``smoke`` mark for ``-m smoke``."""
    if item.get_closest_marker("phase") is not None and item.get_closest_marker("smoke") is None:
        item.add_marker("smoke")


def check_collected(collector: pytest.Collector, result: Any, known: Sequence[str], default: str) -> None:
    """Validate the phase marks of freshly collected test functions.

    A bad mark becomes a collection error of the module, naming the configured phases.
    """
    items = result if isinstance(result, list) else [result]
    for item in items:
        if isinstance(item, pytest.Item):
            try:
                assign(item, known, default)
                budget_of(item)
                rollback_rule(item)
            except MarkError as exc:
                raise collector.CollectError(str(exc)) from None


def order(items: list[pytest.Item], phases: Sequence[str]) -> None:
    """Sort *items* in place by phase; the sort is stable, so file order holds within a phase."""
    rank = {name: index for index, name in enumerate(phases)}
    items.sort(key=lambda item: rank[item.stash[phase_key].name])


def deselect_other_phases(config: pytest.Config, items: list[pytest.Item], only: Sequence[str]) -> None:
    """Keep only the items of the phases in *only* (``--deploy-phase``)."""
    if not only:
        return
    keep = [item for item in items if item.stash[phase_key].name in only]
    dropped = [item for item in items if item.stash[phase_key].name not in only]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def skip_without_target(items: list[pytest.Item]) -> None:
    """With no target selected, skip the smoke checks (plain tests run untouched)."""
    for item in items:
        if item.get_closest_marker("smoke") is not None:
            item.add_marker(pytest.mark.skip(reason=NO_TARGET_REASON))
