"""RunSummary: collects the checks' reports on the controller and builds the Verdict once."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke.config.model import Target
from pytest_deploysmoke.config.redaction import redact_url
from pytest_deploysmoke.config.settings import RunSettings, get_redactor
from pytest_deploysmoke.config.version_source import VERSION_NODEID
from pytest_deploysmoke.perf.rollback import RollbackRules, evaluate, not_evaluated, phase_figures
from pytest_deploysmoke.results import records, wire
from pytest_deploysmoke.results.endpoints import run_distributions
from pytest_deploysmoke.results.manual import ManualItem, ManualResult, manual_results
from pytest_deploysmoke.results.records import CallRecord
from pytest_deploysmoke.results.verdict import (
    CheckResult,
    Ending,
    FixtureCalls,
    RunInfo,
    Verdict,
    against,
    decide,
    phase_results,
    trace_note,
)
from pytest_deploysmoke.run import selection

if TYPE_CHECKING:
    from pytest_deploysmoke.perf.compare import Comparison
    from pytest_deploysmoke.perf.distributions import EndpointDistribution
    from pytest_deploysmoke.results.watch_log import WatchLog

verdict_key = pytest.StashKey[Verdict]()
#: The phase whose budgeted calls the p95_over_target and ws_failure_rate rules are also evaluated on.
PERFORMANCE_PHASE = "performance"


def get_verdict(config: pytest.Config) -> Verdict | None:
    """The run's verdict, from ``pytest_sessionfinish`` on (None before, or when inert).

    RunSummary decides it in a ``tryfirst`` sessionfinish implementation, so any other
    plugin's sessionfinish, and every hook called from one, finds it.
    """
    return config.stash.get(verdict_key, None)


@dataclass(slots=True)
class _Check:
    """What the reports of one check said so far: its CheckResult taking shape, report by report."""

    so_far: CheckResult
    #: Its teardown was reported: a check cut short by an interruption never is.
    finished: bool = False

    def fold(self, report: pytest.TestReport, facts: wire.ReportFacts) -> None:
        """Take in one more report of the check, and the facts it carries."""
        was = self.so_far
        outcome, message = was.outcome, was.message
        if report.failed and outcome != "failed":
            outcome, message = "failed", failure_line(report)
        elif report.skipped and outcome == "passed":
            outcome, message = "skipped", failure_line(report)
        self.so_far = replace(
            was,
            phase=facts.phase or was.phase,
            title=facts.title or was.title,
            outcome=outcome,
            message=message,
            duration=was.duration + report.duration,
            calls=was.calls if facts.calls is None else facts.calls,
            measurements=was.measurements if facts.measurements is None else facts.measurements,
            screenshot=facts.screenshot or was.screenshot,
            rollback_rule=facts.rollback_rule or was.rollback_rule,
            guard_blocked=was.guard_blocked or facts.guard_blocked,
            wrote_production=was.wrote_production or facts.wrote_production,
        )

    def result(self, default_phase: str) -> CheckResult:
        """The check as the verdict and the writers see it."""
        check = self.so_far
        return replace(check, phase=check.phase or default_phase, title=check.title or _humanize(check.nodeid))


@dataclass(slots=True)
class RunSummary:
    """A plugin object on the controller: folds every report into one check each, then decides."""

    config: pytest.Config
    settings: RunSettings
    started: float = field(default_factory=time.time)
    _checks: dict[str, _Check] = field(default_factory=dict)
    _reported_version: str = ""  # the last a check read
    _checked_version: str = ""  # what the built-in version check read: it is the one compared
    _collection_errors: list[str] = field(default_factory=list)
    _interrupted: str = ""
    _running: dict[str, None] = field(default_factory=dict)  # the checks now running, in start order
    _fixture_calls: dict[str, list[CallRecord]] = field(default_factory=dict)
    _cleanup: list[str] = field(default_factory=list)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            message = failure_line(report)
            self._collection_errors.append(f"{report.nodeid or 'the session'}: {message}".rstrip(": "))

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._running[nodeid] = None  # several at once under pytest-xdist

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self._running.pop(nodeid, None)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        exc = excinfo.value
        if isinstance(exc, pytest.Session.Interrupted) and self._collection_errors:
            return  # "Interrupted: 1 error during collection": the collection errors are the reasons
        if isinstance(exc, pytest.exit.Exception):
            self._interrupted = f"pytest.exit: {exc.msg}"
        elif isinstance(exc, pytest.Session.Interrupted):
            self._interrupted = f"stopped: {exc}"
        else:
            from pytest_deploysmoke.run.interruption import received_signal

            self._interrupted = received_signal(self.config) or "SIGINT"

    def pytest_internalerror(self, excrepr: object) -> None:
        lines = [line for line in str(excrepr).splitlines() if line.strip()]
        self._interrupted = "internal error: " + (lines[-1].removeprefix("E").strip() if lines else "(no message)")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        facts = wire.read(report)
        for fixture, calls in facts.fixture_calls:  # the wide fixtures' calls: they belong to no check
            self._fixture_calls.setdefault(fixture, []).extend(calls)
        self._cleanup += facts.cleanup
        check = self._checks.get(report.nodeid)
        if check is None:
            check = self._checks[report.nodeid] = _Check(CheckResult(report.nodeid, "", "", "passed", 0.0))
        if str(report.outcome) == "rerun":  # pytest-rerunfailures' outcome, outside pytest's own Literal
            check.so_far = replace(check.so_far, reruns=check.so_far.reruns + 1)
            return
        if report.when not in ("setup", "call"):  # teardown, or a crashed xdist worker's one report
            check.finished = True
        check.fold(report, facts)
        if report.nodeid == VERSION_NODEID:
            self._checked_version = facts.reported_version or self._checked_version
        else:
            self._reported_version = facts.reported_version or self._reported_version

    def ending(self, session: pytest.Session | None) -> Ending:
        """How the run ended, beside its checks: selection, interruption, readiness, cleanup."""
        from pytest_deploysmoke.run.launch import not_ready

        if session is not None:  # a session fixture's cleanup runs after the last report on a worker-less run
            log = self.config.stash.get(records.fixture_log_key, None)
            if log is not None:
                calls, cleanup = log.take()
                for fixture, made in calls.items():
                    self._fixture_calls.setdefault(fixture, []).extend(made)
                self._cleanup += cleanup
        redact = get_redactor(self.config).redact
        interrupted = self._interrupted
        if not interrupted and session is not None and session.exitstatus == pytest.ExitCode.INTERRUPTED:
            interrupted = "SIGINT" if not self._collection_errors else ""
        return Ending(
            selection=selection.get_selection(self.config),
            not_ready=not_ready(self.config),
            interrupted=redact(interrupted),
            cut_short=", ".join(self._running) if interrupted else "",
            cleanup=tuple(redact(line) for line in self._cleanup),
            held_back_warns=self.settings.target.held_back == "warn",
            fixture_calls=tuple(FixtureCalls(name, tuple(calls)) for name, calls in self._fixture_calls.items()),
        )

    def verdict(self, session: pytest.Session | None = None) -> Verdict:
        """Decide, once, from everything reported (called at the end of the session).

        First the evidence: the checks, their phases, the rollback rules evaluated on their
        calls, how the run ended.  Then, when a watch window is asked for and the checks did not
        already decide against the deploy, the window runs (with *session*) to its end.  Then
        the verdict is decided on both.
        """
        target = self.settings.target
        config = self.settings.config
        redact = get_redactor(self.config).redact
        checks = [
            with_trace(c.result(config.default_phase), target, redact) for c in self._checks.values() if c.finished
        ]
        rank = {name: index for index, name in enumerate(config.phases)}
        checks.sort(key=lambda check: rank.get(check.phase, len(rank)))  # stable: run order within a phase
        phase_list = phase_results(config.phases, config.gates, checks)
        rollback, unjudged = _checks_rollback(target.rollback, checks)
        errors = tuple(self._collection_errors)
        ending = self.ending(session)
        run = self._run_info()
        manual = self.manual()
        watch_line = ""
        watch_log = None
        live = None  # --deploy-compare: the canary judged against the stable target in the window
        endpoints = run_distributions(
            [call for check in checks for call in check.calls]
            + [call for fixture in ending.fixture_calls for call in fixture.calls],
            [m for check in checks for m in check.measurements],
        )
        if target.watch.duration > 0:
            from pytest_deploysmoke.perf import watch

            # A regression of the checks against the baseline decides before the window, as a
            # failed check does: a deploy already refused is not watched.
            prior = against(
                run,
                phase_list,
                checks,
                rollback=rollback,
                collection_errors=errors,
                ending=ending,
                max_retried=target.max_retried,
                manual=manual,
                comparison=self.comparison(endpoints, None),
            )
            outcome = watch.run_window(self.config, self.settings, prior, session)
            run = replace(run, finished=time.time())
            rollback += outcome.rollback
            unjudged += outcome.not_evaluated
            watch_line = outcome.line
            watch_log = outcome.log
            live = outcome.comparison
            if outcome.interrupted:
                ending = replace(ending, interrupted="SIGINT during the watch window")
        return decide(
            run,
            phase_list,
            checks,
            rollback=rollback,
            watch=watch_line,
            collection_errors=errors,
            ending=ending,
            not_evaluated=unjudged,
            max_retried=target.max_retried,
            manual=manual,
            watch_log=watch_log,
            endpoints=endpoints,
            comparison=live if live is not None else self.comparison(endpoints, watch_log),
        )

    def comparison(self, endpoints: tuple[EndpointDistribution, ...], watch_log: WatchLog | None) -> Comparison | None:
        """The run judged against ``--deploy-baseline`` (None without one): checks with checks, watch with watch."""
        baseline = self.settings.baseline
        if baseline is None:
            return None
        from pytest_deploysmoke.perf.baseline import judge_against

        watched = watch_log.distributions if watch_log is not None else ()
        return judge_against(baseline, endpoints, watched, self.settings.target.compare)

    def manual(self) -> tuple[ManualResult, ...]:
        """The checklist's manual items, each confirmed (``--deploy-confirm``) at the run's start or open.

        Every text goes through the redactor: a note must never carry a secret into a report.
        """
        redact = get_redactor(self.config).redact
        items = [
            ManualItem(item.id, redact(item.text), item.phase, redact(item.owner), item.required)
            for item in self.settings.target.manual
        ]
        notes = {item_id: redact(note) for item_id, note in self.settings.confirmations}
        return manual_results(items, notes, by=redact(self.settings.confirmed_by), at=self.started)

    def _run_info(self) -> RunInfo:
        """Where and when the run happened (finished: now)."""
        target = self.settings.target
        reported = self._checked_version or self._reported_version
        return RunInfo(
            target=target.name,
            base_url=redact_url(target.base_url),
            production=target.production,
            expected_version=target.version,
            reported_version=reported,
            version_source=get_redactor(self.config).redact(target.version_source.describe()) if reported else "",
            started=self.started,
            finished=time.time(),
            host=socket.gethostname(),
            commit=_git_commit(self.config.rootpath),
            extra=tuple(_extra_rows(self.config)),
        )

    # The outermost part of sessionfinish: decided before any other implementation runs (the
    # writers render it from theirs: JUnit's properties before junitxml writes its file, the
    # ticket and the JSON summary last, pytest-html from its trylast one), and announced to
    # pytest_deploysmoke_verdict after every one of them.
    @pytest.hookimpl(wrapper=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_decide(self, session: pytest.Session) -> Generator[None, None, None]:
        """Decide the verdict before the writers, and pass it to the verdict hook after them."""
        verdict = self.config.stash[verdict_key] = self.verdict(session)
        if not verdict.go and session.exitstatus == pytest.ExitCode.OK:
            # pytest returns session.exitstatus as set after sessionfinish: the checks that ran passed,
            # the deploy did not (a rollback rule, nothing checked, a target never ready), or Ctrl-C
            # stopped the watch window after them: exit 2, as any interrupted run.
            interrupted = bool(verdict.ending.interrupted)
            session.exitstatus = pytest.ExitCode.INTERRUPTED if interrupted else pytest.ExitCode.TESTS_FAILED
        result = yield
        self.config.hook.pytest_deploysmoke_verdict(config=self.config, verdict=verdict)
        return result


def _checks_rollback(rules: RollbackRules, checks: list[CheckResult]) -> tuple[list[str], list[str]]:
    """The rollback rules that trip on the checks' calls, and those with too few samples to be evaluated.

    ``error_rate`` counts every attempt of every check in every phase (and the load probe's
    requests); ``p95_over_target`` and ``ws_failure_rate`` the performance phase's budgeted calls
    and WebSocket opens.  A ``latency`` budget left unjudged on too few samples is a line too.
    """
    loads = [m for check in checks for m in check.measurements if m.engine != "latency"]
    every = phase_figures("the checks", [call for check in checks for call in check.calls], loads)
    performance = phase_figures(
        "the performance phase", [call for check in checks if check.phase == PERFORMANCE_PHASE for call in check.calls]
    )
    figures = (replace(every, ws_connects=0, ws_failures=0, endpoints=()), replace(performance, requests=0, errors=0))
    tripped = [reason for scope in figures for reason in evaluate(rules, scope)]
    unjudged = [line for scope in figures for line in not_evaluated(rules, scope)]
    for check in checks:
        for m in check.measurements:
            if m.not_evaluated:  # set only when its p95 was over the budget, so it has one
                unjudged.append(
                    f"{m.budget} of {m.action} {m.not_evaluated} (p95 {m.p95_ms or 0:.0f} ms) ({check.nodeid})"
                )
    return tripped, unjudged


def with_trace(check: CheckResult, target: Target, redact: Callable[[str], str]) -> CheckResult:
    """*check*, and when it failed after calls that carried a trace: its message ends with the trace id,
    and its ``trace_url`` is where the target's tracing UI shows that trace (redacted; "" without one)."""
    trace_id = check.trace_id
    if check.outcome != "failed" or not trace_id:
        return check
    message = f"{check.message} {trace_note(trace_id)}".lstrip()
    return replace(check, message=message, trace_url=redact(target.trace_link(trace_id)))


def failure_line(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The one line a person needs: the failure's message or the skip's reason."""
    longrepr: Any = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        text = str(crash.message)
        for prefix in ("Failed: ", "AssertionError: "):
            text = text.removeprefix(prefix)
        return text.splitlines()[0] if text else ""
    lines = [line for line in str(longrepr or "").splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return (errors or lines or [""])[-1 if not errors else 0]


def _humanize(nodeid: str) -> str:
    name = nodeid.rsplit("::", 1)[-1].split("[", 1)[0].removeprefix("test_")
    return name.replace("_", " ").capitalize()


def _git_commit(root: Path) -> str:
    """The suite's git commit (short), or "" when it is not a git checkout or git is missing."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _extra_rows(config: pytest.Config) -> list[tuple[str, str]]:
    from pytest_deploysmoke.config.settings import get_redactor

    redact = get_redactor(config).redact
    rows: list[tuple[str, str]] = []
    for result in config.hook.pytest_deploysmoke_environment(config=config):
        for name, value in dict(result or {}).items():
            rows.append((redact(str(name)), redact(str(value))))
    return rows
