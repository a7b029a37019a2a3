"""The verdict of a smoke run: GO, GO with warnings, NO-GO or ROLLBACK, with its reasons (no pytest)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from pytest_deploysmoke.config.model import DEFAULT_MAX_RETRIED
from pytest_deploysmoke.config.version_source import VERSION_NODEID, mismatch
from pytest_deploysmoke.perf.rollback import endpoint_of, percent
from pytest_deploysmoke.results.manual import open_required

if TYPE_CHECKING:
    from pytest_deploysmoke.perf.compare import Comparison
    from pytest_deploysmoke.perf.distributions import EndpointDistribution
    from pytest_deploysmoke.results.manual import ManualResult
    from pytest_deploysmoke.results.records import CallRecord, Measurement
    from pytest_deploysmoke.results.watch_log import WatchLog

Decision = Literal["GO", "GO with warnings", "NO-GO", "ROLLBACK"]
CheckOutcome = Literal["passed", "failed", "skipped"]
#: How the reason of a failed gate begins: the verdict's reason, and the skip reason of later checks.
GATE_SKIP_PREFIX = "gate '"
#: The fewest retried calls on one endpoint that make it NO-GO under ``max_retried``: one is a blip, and warns.
MIN_RETRIED_CALLS: Final = 2


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
    calls: tuple[CallRecord, ...] = ()
    reruns: int = 0
    guard_blocked: bool = False
    #: The rule of its ``rollback`` mark, when the check failed on its data: the verdict is ROLLBACK for it.
    rollback_rule: str = ""
    #: A browser check's screenshot file, relative to the ticket's folder ("" when none was saved).
    screenshot: str = ""
    #: Whether the check ran on a production target with writes allowed (marked destructive, and
    #: ``--allow-destructive`` or ``allow_destructive`` given).
    wrote_production: bool = False

    @property
    def write_calls(self) -> tuple[CallRecord, ...]:
        """The calls that wrote to the target (a POST, a Redis SET, a page's form post)."""
        return tuple(call for call in self.calls if call.write)

    def writes_text(self) -> str:
        """``POST /items, SET k``: its write calls in one line, as every report names them."""
        return ", ".join(call.action for call in self.write_calls) or "no write call recorded"

    #: The distributions the check measured (``latency``, ``load_probe``): its line shows them.
    measurements: tuple[Measurement, ...] = ()
    #: Where a failed check's trace is shown (the target's ``trace_url`` with its :attr:`trace_id`); "" otherwise.
    trace_url: str = ""

    @property
    def retried_calls(self) -> int:
        """How many calls needed more than one attempt (``retries`` on the target)."""
        return sum(1 for call in self.calls if call.attempt > 1 and call.ok)

    @property
    def measured_calls(self) -> tuple[CallRecord, ...]:
        """The calls without the warm-up requests (``warmup``), which no rule or "slowest" counts."""
        return tuple(call for call in self.calls if not call.warmup)

    @property
    def slowest_call(self) -> CallRecord | None:
        """The call that took longest, warm-up requests left out, or None when the check made none."""
        return slowest(self.calls)

    @property
    def over_target_calls(self) -> tuple[CallRecord, ...]:
        """The measured calls that took longer than their budget's target (a two-level budget)."""
        return tuple(call for call in self.measured_calls if call.over_target)

    @property
    def trace_id(self) -> str:
        """The trace its failure line names (see :func:`trace_of`); "" when no call carried one."""
        return trace_of(self.calls)


def trace_note(trace_id: str) -> str:
    """``(trace 4bf92f3577b34da6a3ce929d0e0e4736)``: how a failure line ends with its check's trace."""
    return f"(trace {trace_id})"


def trace_of(calls: Iterable[CallRecord]) -> str:
    """The trace id of a check's calls: its last failed call's that carried one, else its last call's that did.

    A check's calls share the check's trace, unless it sent a ``traceparent`` of its own; the one
    that failed is where to look.  "" when no call carried one (a database or Redis check).
    """
    traced = [call for call in calls if call.trace_id]
    failed = [call for call in traced if not call.ok]
    return (failed or traced)[-1].trace_id if traced else ""


def slowest(calls: Iterable[CallRecord]) -> CallRecord | None:
    """The call that took longest, warm-up requests left out (a cold first request is not the
    check's time), or None when there is none."""
    return max((call for call in calls if not call.warmup), key=lambda call: call.ms, default=None)


@dataclass(frozen=True, slots=True)
class FixtureCalls:
    """The calls one fixture wider than a check made while setting up and cleaning up (a login, a
    throwaway user): they belong to no check, so no check's figures or rollback counts include them."""

    fixture: str
    calls: tuple[CallRecord, ...]


@dataclass(frozen=True, slots=True)
class Selection:
    """Which checks the run selected, out of how many it collected, and what narrowed it."""

    selected: int = 0
    collected: int = 0
    #: The options that narrowed the run (``-k health``, ``--deploy-phase=health``, ``node ids``).
    narrowed_by: tuple[str, ...] = ()

    @property
    def partial(self) -> bool:
        """Whether the run checked less than the whole suite."""
        return bool(self.narrowed_by) or self.selected < self.collected

    def describe(self) -> str:
        """``3 of 10 checks, narrowed by -k health``."""
        by = f", narrowed by {', '.join(self.narrowed_by)}" if self.narrowed_by else ""
        return f"{self.selected} of {self.collected} checks{by}"


@dataclass(frozen=True, slots=True)
class Ending:
    """How the run ended besides its checks' outcomes: what stopped it early, and what was left behind."""

    selection: Selection = field(default_factory=Selection)
    #: What came back when the target never got ready ("" when it did, or nobody waited).
    not_ready: str = ""
    #: Why the run was cut short: ``"SIGINT"`` (Ctrl-C), ``"SIGTERM"``, ``"internal error: ..."``.
    interrupted: str = ""
    #: The check that was running when the run was cut short ("" when none was).
    cut_short: str = ""
    #: Cleanup that failed, each naming what was left behind and how to purge it.
    cleanup: tuple[str, ...] = ()
    #: With ``held_back = "warn"`` on the target, destructive checks held back on production warn.
    held_back_warns: bool = False
    #: The calls of fixtures wider than one check (login, throwaway users), per fixture.
    fixture_calls: tuple[FixtureCalls, ...] = ()


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
    #: Where the reported version was read (``header X-App-Version of GET /health``); "" when none was.
    version_source: str = ""
    started: float = 0.0
    finished: float = 0.0
    host: str = ""
    commit: str = ""
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def duration(self) -> float:
        """Seconds from the start of the session (when the plugin configured it) to its end."""
        return max(self.finished - self.started, 0.0)

    @property
    def version_mismatch(self) -> bool:
        """Whether the target reported a version other than the expected one."""
        return bool(self.expected_version and self.reported_version not in ("", self.expected_version))

    def version_line(self) -> str:
        """``version 2.4.0 expected and reported (header X-App-Version of GET /health)``; "" when neither is known."""
        expected, reported = self.expected_version, self.reported_version
        source = f" ({self.version_source})" if self.version_source else ""
        if self.version_mismatch:
            return mismatch(expected, reported, self.version_source)
        if expected and reported:
            return f"version {expected} expected and reported{source}"
        if expected:
            return f"version {expected} expected, not reported"
        return f"version {reported} reported{source}" if reported else ""


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
    #: How the run ended: its selection, an interruption, a target that never got ready, cleanup left behind.
    ending: Ending = field(default_factory=Ending)
    #: The checklist's manual items (``[manual.ID]``), open or confirmed, in config order.
    manual: tuple[ManualResult, ...] = ()
    #: The watch window's intervals (None when no window ran).
    watch_log: WatchLog | None = None
    #: Each endpoint's measured distribution over the run (the checks' calls and load probes, sorted by
    #: endpoint), for a later comparison; the watch window's probes are ``watch_log.distributions``.
    endpoints: tuple[EndpointDistribution, ...] = ()
    #: This run judged against a baseline run (``--deploy-baseline``) or a stable target
    #: (``--deploy-compare``); None when neither was asked for.
    comparison: Comparison | None = None

    @property
    def selection(self) -> Selection:
        """Which checks ran out of how many were collected, and what narrowed the run."""
        return self.ending.selection

    @property
    def partial(self) -> bool:
        """Whether the run checked less than the whole suite (``-k``, node ids, ``--deploy-phase``...)."""
        return self.ending.selection.partial

    @property
    def held_back(self) -> tuple[CheckResult, ...]:
        """Destructive checks the production guard kept from running (by design)."""
        return tuple(check for check in self.checks if check.guard_blocked)

    @property
    def production_writes(self) -> tuple[CheckResult, ...]:
        """Checks that ran on a production target with writes allowed."""
        return tuple(check for check in self.checks if check.wrote_production)

    @property
    def fixture_calls(self) -> tuple[FixtureCalls, ...]:
        """Calls of fixtures wider than one check: "setup and cleanup", per fixture."""
        return self.ending.fixture_calls

    @property
    def go(self) -> bool:
        """Whether the deploy may stay (GO or GO with warnings)."""
        return self.decision in ("GO", "GO with warnings")

    def headline(self) -> str:
        """One line: the decision (``partial`` when narrowed) and its first rollback reason, reason or warning."""
        detail = self.rollback or self.reasons or self.warnings
        first = f": {detail[0]}" if detail else ""
        more = f" (+{len(detail) - 1} more)" if len(detail) > 1 else ""
        return f"{self.decision}{self.partial_note()}{first}{more}"

    def partial_note(self) -> str:
        """`` (partial: 3 of 10 checks, narrowed by -k health)``, or "" for a whole run."""
        return f" (partial: {self.selection.describe()})" if self.partial else ""

    def ending_note(self) -> str:
        """What the heading of a report adds to the decision: partial, interrupted, target not ready."""
        notes = []
        if self.partial:
            notes.append(f"partial: {self.selection.describe()}")
        if self.ending.interrupted:
            notes.append(f"interrupted after {len(self.checks)} of {self.selection.selected} checks")
        if self.ending.not_ready:
            notes.append("target not ready")
        return f" ({'; '.join(notes)})" if notes else ""

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
    ending: Ending | None = None,
    not_evaluated: Sequence[str] = (),
    max_retried: float = DEFAULT_MAX_RETRIED,
    manual: Sequence[ManualResult] = (),
    watch_log: WatchLog | None = None,
    endpoints: Sequence[EndpointDistribution] = (),
    comparison: Comparison | None = None,
) -> Verdict:
    """Apply the rules: a tripped rollback rule is ROLLBACK; any failure is NO-GO; so is a run that
    checked nothing, never got its target ready, or was cut short; retries and self-skipped checks
    make GO with warnings.

    GO needs at least one check that ran and passed.  *collection_errors* (a test module that did
    not import, a bad mark) are reasons first: checks that were never collected were not checked.
    *rollback* holds the rollback rules that tripped (see :mod:`pytest_deploysmoke.perf.rollback`); any
    makes the decision ROLLBACK, whatever the checks said, and so does a failed check with a
    ``rollback`` mark (its rule, node id and message join the rollback reasons).  *watch* is the
    watch window's line and *watch_log* its intervals' figures (None when no window ran), which the
    reports show; *ending* says how the run ended (interrupted, not ready, its selection).
    *not_evaluated* holds the rules that had too few samples to be evaluated (``... not evaluated:
    9 samples < 20 ...``): each is a warning, never a rollback on too little data.
    *max_retried* is the target's share of an endpoint's calls that may need a retry: an endpoint
    over it, with at least two retried calls, is a reason (see :func:`retried_endpoints`).
    *manual* holds the checklist's manual items: each required one nobody confirmed is a reason,
    after the checks' (a confirmation is never a passed check); an open optional one changes nothing.

    A failed gate is named first among the reasons.  A check that passed only after reruns or
    retried calls, a check that skipped itself, and cleanup that failed are named as warnings,
    never hidden.  A destructive check the production guard held back is listed apart, by design;
    it warns only with ``held_back = "warn"``.

    *comparison* is this run judged against a baseline (see :mod:`pytest_deploysmoke.perf.compare`):
    each regression is a line naming its rule (``latency_regression``, ``error_regression``), the
    endpoint and its figures, among the rollback reasons or, with ``on_regression = "no-go"``, the
    NO-GO reasons.  Each endpoint not evaluated is a warning, and so is a comparison that compared
    nothing; an improvement is shown by the reports and is never a reason.
    """
    ending = ending or Ending(selection=Selection(len(checks), len(checks)))
    reasons = _reasons(run, phases, checks, collection_errors, ending, max_retried, manual)
    warnings: list[str] = []
    for check in checks:
        if check.outcome == "passed" and check.reruns:
            warnings.append(f"{check.title} passed only after {check.reruns} rerun(s) ({check.nodeid})")
        elif check.outcome == "passed" and check.retried_calls:
            warnings.append(f"{check.title} passed only after retried calls ({check.nodeid})")
        over = check.over_target_calls
        if check.outcome == "passed" and over:  # one line per check, however many samples it took
            worst = max(over, key=lambda call: call.ms - (call.target_ms or 0.0))
            count = f"{len(over)} calls over their target, worst " if len(over) > 1 else ""
            warnings.append(
                f"{check.title}: {count}{worst.action} took {worst.ms:.0f} ms, "
                f"over its {worst.target_ms or 0:.0f} ms target (limit {worst.budget_ms or 0:.0f} ms) "
                f"({check.nodeid})"
            )
        if check.guard_blocked:
            if ending.held_back_warns:
                warnings.append(f"{check.title} not run: target '{run.target}' is production ({check.nodeid})")
        elif check.outcome == "skipped" and not check.message.startswith(GATE_SKIP_PREFIX):
            # An unchecked box on the ticket: say so, unless a failed gate (a reason already) explains it.
            reason = f": {check.message}" if check.message else ""
            warnings.append(f"{check.title} skipped{reason} ({check.nodeid})")
    warnings += ending.cleanup
    warnings.extend(not_evaluated)
    regressions: tuple[str, ...] = ()
    if comparison is not None:
        warnings.extend(comparison.warning_lines())
        regressions = comparison.regression_lines()
        if comparison.settings.on_regression == "no-go":
            reasons.extend(regressions)
            regressions = ()
    decision: Decision = "NO-GO" if reasons else ("GO with warnings" if warnings else "GO")
    rollback = [*rollback, *rollback_checks(checks), *regressions]
    if rollback:
        decision = "ROLLBACK"
    return Verdict(
        decision,
        tuple(reasons),
        tuple(warnings),
        run,
        phases,
        tuple(checks),
        rollback=tuple(rollback),
        watch=watch,
        ending=ending,
        manual=tuple(manual),
        watch_log=watch_log,
        endpoints=tuple(endpoints),
        comparison=comparison,
    )


def not_ready_reason(target: str, detail: str) -> str:
    """``target 'prod' not ready: GET https://x/health gave connection refused (...)``."""
    return f"target '{target}' not ready: {detail}"


def nothing_checked(selection: Selection, checks: Sequence[CheckResult]) -> str:
    """The reason of a run in which no check ran and passed: what selected nothing, or why all were skipped."""
    if not checks and selection.selected == 0:
        if selection.collected == 0:
            return "nothing was checked: no check was collected"
        by = f" ({', '.join(selection.narrowed_by)})" if selection.narrowed_by else ""
        return f"nothing was checked: the selection{by} left none of the {selection.collected} collected checks"
    held = sum(1 for check in checks if check.guard_blocked)
    why = f"; {held} held back on production" if held else ""
    return f"nothing was checked: all {len(checks)} selected checks were skipped{why}"


def rollback_checks(checks: Iterable[CheckResult]) -> list[str]:
    """The rollback reasons of the failed checks that carry a ``rollback`` mark."""
    return [
        f"{check.rollback_rule}: {check.nodeid} failed: {check.message}".rstrip(": ")
        for check in checks
        if check.outcome == "failed" and check.rollback_rule
    ]


def against(
    run: RunInfo,
    phases: Sequence[PhaseResult],
    checks: Sequence[CheckResult],
    *,
    rollback: Sequence[str] = (),
    collection_errors: Iterable[str] = (),
    ending: Ending | None = None,
    max_retried: float = DEFAULT_MAX_RETRIED,
    manual: Sequence[ManualResult] = (),
    comparison: Comparison | None = None,
) -> Decision | None:
    """What the checks already decided against the deploy (``"ROLLBACK"``, ``"NO-GO"``), or None.

    The watch window asks before it runs, so that it does not watch a deploy already refused;
    :func:`decide` then decides once, on the checks and the window together.  A required manual
    item nobody confirmed (*manual*) is already NO-GO, and so is (or ROLLBACK, as its
    ``on_regression`` says) a regression of the checks against the baseline (*comparison*).
    """
    regression = comparison.settings.on_regression if comparison is not None and comparison.regressions else None
    if rollback or rollback_checks(checks) or regression == "rollback":
        return "ROLLBACK"
    ending = ending or Ending(selection=Selection(len(checks), len(checks)))
    refused = regression == "no-go" or _reasons(run, phases, checks, collection_errors, ending, max_retried, manual)
    return "NO-GO" if refused else None


def _reasons(
    run: RunInfo,
    phases: Sequence[PhaseResult],
    checks: Sequence[CheckResult],
    collection_errors: Iterable[str],
    ending: Ending,
    max_retried: float = DEFAULT_MAX_RETRIED,
    manual: Sequence[ManualResult] = (),
) -> list[str]:
    """The reasons for NO-GO: what failed, what needed retries too often, what was never checked, how
    the run was cut short, and the required manual items nobody confirmed (whatever the selection)."""
    reasons = [f"collection failed: {error}" for error in collection_errors]
    if ending.not_ready:
        reasons.append(not_ready_reason(run.target, ending.not_ready))
    if ending.interrupted:
        during = f" during {ending.cut_short}" if ending.cut_short else ""
        reasons.append(
            f"interrupted ({ending.interrupted}){during} after {len(checks)} of {ending.selection.selected} checks"
        )
    for phase in phases:
        if phase.gate and phase.outcome == "failed":
            first = next(c for c in checks if c.phase == phase.name and c.outcome == "failed")
            reasons.append(gate_failed(phase.name, first.nodeid))
    for check in checks:
        if check.outcome == "failed":
            reasons.append(f"{check.title} failed ({check.nodeid}): {check.message}".rstrip(": "))
    reasons += retried_endpoints(checks, max_retried)
    version_failed = any(check.nodeid == VERSION_NODEID and check.outcome == "failed" for check in checks)
    if run.version_mismatch and not version_failed:
        # The built-in check did not run (deselected): the version a check read still decides.
        reasons.append(mismatch(run.expected_version, run.reported_version, run.version_source))
    if not reasons and not any(check.outcome == "passed" for check in checks):
        reasons.append(nothing_checked(ending.selection, checks))
    elif not reasons and len(checks) < ending.selection.selected:
        reasons.append(f"the run ended after {len(checks)} of {ending.selection.selected} checks")
    reasons += open_required(manual)  # last: a confirmation is no passed check, so "nothing checked" still holds
    return reasons


@dataclass(slots=True)
class _Retries:
    """One endpoint's calls over the run, the calls among them that needed a retry, and what the failed attempts got."""

    calls: int = 0
    retried: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    open_retried: bool = False  # the endpoint's latest call is already counted as retried


def retried_endpoints(checks: Iterable[CheckResult], max_retried: float) -> list[str]:
    """The endpoints whose calls needed a retry too often: the reasons, one per endpoint.

    An endpoint is the method and path of its calls' action, without the query (``GET /files``).
    A call needed a retry when one of its attempts failed and was sent again under the target's
    ``retries`` (``CallRecord.retried``); warm-up requests and blocked calls are not counted.
    With at least two such calls on an endpoint, more than *max_retried* of its calls is NO-GO:
    ``GET /files needed a retry on 3 of 10 calls (30%, max_retried 10%): 503 x3``.  A single
    retried call is a blip, which the check's warning names.
    """
    endpoints: dict[str, _Retries] = {}
    for check in checks:
        for call in check.calls:
            if call.kind != "http" or call.warmup or call.outcome == "blocked":
                continue
            tally = endpoints.setdefault(endpoint_of(call.action), _Retries())
            if call.attempt == 1:  # each call starts with its first attempt; its retries follow it
                tally.calls += 1
                tally.open_retried = False
            if call.retried:
                tally.outcomes[call.outcome] += 1
                if not tally.open_retried:
                    tally.retried += 1
                    tally.open_retried = True
    reasons = []
    for endpoint, tally in endpoints.items():
        share = tally.retried / tally.calls if tally.calls else 0.0
        if tally.retried >= MIN_RETRIED_CALLS and share > max_retried:
            got = ", ".join(f"{outcome} x{count}" for outcome, count in tally.outcomes.most_common(4))
            more = ", ..." if len(tally.outcomes) > 4 else ""
            reasons.append(
                f"{endpoint} needed a retry on {tally.retried} of {tally.calls} calls "
                f"({percent(share)}, max_retried {percent(max_retried)}): {got}{more}"
            )
    return reasons
