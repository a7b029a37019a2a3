"""The verdict of a smoke run: GO, GO with warnings, NO-GO or ROLLBACK, with its reasons (no pytest)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pytest_deploysmoke.records import Measurement

Decision = Literal["GO", "GO with warnings", "NO-GO", "ROLLBACK"]
CheckOutcome = Literal["passed", "failed", "skipped"]
#: How the reason of a failed gate begins: the verdict's reason, and the skip reason of later checks.
GATE_SKIP_PREFIX = "gate '"


def gate_failed(phase: str, nodeid: str) -> str:
    """``gate 'health' failed (t.py::test_h); later phases not run``: the one wording of a failed gate."""
    return f"{GATE_SKIP_PREFIX}{phase}' failed ({nodeid}); later phases not run"


PhaseOutcome = Literal["passed", "failed", "skipped", "not run"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check as the reports show it: its checklist words, outcome, time, message and calls."""

    nodeid: str
    phase: str
    title: str
    outcome: CheckOutcome
    duration: float
    message: str = ""
    calls: tuple[Mapping[str, Any], ...] = ()
    reruns: int = 0
    guard_blocked: bool = False
    #: The rule of its ``rollback`` mark, when the check failed on its data: the verdict is ROLLBACK for it.
    rollback_rule: str = ""
    #: A browser check's screenshot file, relative to the ticket's folder ("" when none was saved).
    screenshot: str = ""
    #: The distributions the check measured (``latency``, ``load_probe``): its line shows them.
    measurements: tuple[Measurement, ...] = ()

    @property
    def retried_calls(self) -> int:
        """How many calls needed more than one attempt (``retries`` on the target)."""
        return sum(1 for call in self.calls if call.get("attempt", 1) > 1 and call.get("ok"))

    @property
    def measured_calls(self) -> tuple[Mapping[str, Any], ...]:
        """The calls without the warm-up requests (``warmup``), which no rule or "slowest" counts."""
        return tuple(call for call in self.calls if not call.get("warmup"))

    @property
    def slowest_call(self) -> Mapping[str, Any] | None:
        """The call that took longest, warm-up requests left out, or None when the check made none."""
        return max(self.measured_calls, key=lambda call: call.get("ms", 0.0), default=None)


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """A checklist phase's outcome and counts."""

    name: str
    gate: bool
    outcome: PhaseOutcome
    passed: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Where and when the run happened (the environment table of the reports)."""

    target: str
    base_url: str
    production: bool
    expected_version: str = ""
    reported_version: str = ""
    started: float = 0.0
    finished: float = 0.0
    host: str = ""
    commit: str = ""
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def duration(self) -> float:
        """Seconds from the start of the session (when the plugin configured it) to its end."""
        return max(self.finished - self.started, 0.0)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the run decided, and everything the writers render; computed once per run."""

    decision: Decision
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]
    run: RunInfo
    phases: tuple[PhaseResult, ...]
    checks: tuple[CheckResult, ...] = field(repr=False)
    #: The rollback rules that tripped, each with the rule, the measured value and the threshold.
    rollback: tuple[str, ...] = ()
    #: One line on the watch window: what it measured, or why it did not run ("" when not asked for).
    watch: str = ""

    @property
    def go(self) -> bool:
        """Whether the deploy may stay (GO or GO with warnings)."""
        return self.decision in ("GO", "GO with warnings")

    def headline(self) -> str:
        """One line: the decision and its first rollback reason, reason or warning."""
        detail = self.rollback or self.reasons or self.warnings
        first = f": {detail[0]}" if detail else ""
        more = f" (+{len(detail) - 1} more)" if len(detail) > 1 else ""
        return f"{self.decision}{first}{more}"

    def checks_of(self, phase: str) -> tuple[CheckResult, ...]:
        """The checks of *phase*, in run order."""
        return tuple(check for check in self.checks if check.phase == phase)


def phase_outcome(outcomes: Collection[str]) -> PhaseOutcome:
    """A phase's outcome from its checks' outcomes: failed if one failed, passed if one passed, else
    skipped, and not run without checks.  The one rule the live ledger and the verdict share."""
    if "failed" in outcomes:
        return "failed"
    if "passed" in outcomes:
        return "passed"
    if "skipped" in outcomes:
        return "skipped"
    return "not run"


def phase_results(
    phases: Sequence[str], gates: Iterable[str], checks: Sequence[CheckResult]
) -> tuple[PhaseResult, ...]:
    """Each phase's outcome: failed if a check failed, passed if one passed, else skipped or not run."""
    gate_set = set(gates)
    results = []
    for name in phases:
        mine = [check for check in checks if check.phase == name]
        counts = {outcome: sum(1 for c in mine if c.outcome == outcome) for outcome in ("passed", "failed", "skipped")}
        outcome = phase_outcome({c.outcome for c in mine})
        results.append(PhaseResult(name, name in gate_set, outcome, **counts))
    return tuple(results)


def decide(
    run: RunInfo,
    phases: tuple[PhaseResult, ...],
    checks: Sequence[CheckResult],
    *,
    rollback: Sequence[str] = (),
    watch: str = "",
    collection_errors: Sequence[str] = (),
    not_evaluated: Sequence[str] = (),
) -> Verdict:
    """Apply the rules: a tripped rollback rule is ROLLBACK; any failure is NO-GO; retries and
    guarded checks make GO with warnings.

    *collection_errors* (a test module that did not import, a bad mark) are reasons first:
    checks that were never collected were not checked.  *rollback* holds the rollback rules that
    tripped (see :mod:`pytest_deploysmoke.rollback`); any makes the decision ROLLBACK, whatever
    the checks said, and so does a failed check with a ``rollback`` mark (its rule, node id and
    message join the rollback reasons).  *watch* is the watch window's line.  *not_evaluated*
    holds the rules that had too few samples to be evaluated (``... not evaluated: 9 samples <
    20 ...``): each is a warning, never a rollback on too little data.

    A failed gate is named first among the reasons.  A check that passed only after reruns or
    retried calls, a destructive check the production guard kept from running, and a check that
    skipped itself are named as warnings, never hidden.
    """
    reasons = [f"collection failed: {error}" for error in collection_errors]
    for phase in phases:
        if phase.gate and phase.outcome == "failed":
            first = next(c for c in checks if c.phase == phase.name and c.outcome == "failed")
            reasons.append(gate_failed(phase.name, first.nodeid))
    for check in checks:
        if check.outcome == "failed":
            reasons.append(f"{check.title} failed ({check.nodeid}): {check.message}".rstrip(": "))
    warnings: list[str] = []
    for check in checks:
        if check.outcome == "passed" and check.reruns:
            warnings.append(f"{check.title} passed only after {check.reruns} rerun(s) ({check.nodeid})")
        elif check.outcome == "passed" and check.retried_calls:
            warnings.append(f"{check.title} passed only after retried calls ({check.nodeid})")
        over = [
            call
            for call in check.measured_calls
            if call.get("target_ms") is not None and call.get("ms", 0.0) > call["target_ms"]
        ]
        if check.outcome == "passed" and over:  # one line per check, however many samples it took
            worst = max(over, key=lambda call: call["ms"] - call["target_ms"])
            count = f"{len(over)} calls over their target, worst " if len(over) > 1 else ""
            warnings.append(
                f"{check.title}: {count}{worst.get('action')} took {worst['ms']:.0f} ms, "
                f"over its {worst['target_ms']:.0f} ms target (limit {worst.get('budget_ms') or 0:.0f} ms) "
                f"({check.nodeid})"
            )
        if check.guard_blocked:
            warnings.append(f"{check.title} not run: target '{run.target}' is production ({check.nodeid})")
        elif check.outcome == "skipped" and not check.message.startswith(GATE_SKIP_PREFIX):
            # An unchecked box on the ticket: say so, unless a failed gate (a reason already) explains it.
            reason = f": {check.message}" if check.message else ""
            warnings.append(f"{check.title} skipped{reason} ({check.nodeid})")
    warnings.extend(not_evaluated)
    decision: Decision = "NO-GO" if reasons else ("GO with warnings" if warnings else "GO")
    rollback = [*rollback, *rollback_checks(checks)]
    if rollback:
        decision = "ROLLBACK"
    return Verdict(
        decision, tuple(reasons), tuple(warnings), run, phases, tuple(checks), rollback=tuple(rollback), watch=watch
    )


def rollback_checks(checks: Iterable[CheckResult]) -> list[str]:
    """The rollback reasons of the failed checks that carry a ``rollback`` mark."""
    return [
        f"{check.rollback_rule}: {check.nodeid} failed: {check.message}".rstrip(": ")
        for check in checks
        if check.outcome == "failed" and check.rollback_rule
    ]
