"""Canary against the stable fleet: the watch probes on both targets, judged per interval and overall (no pytest).

With ``--deploy-compare TARGET`` the watch window samples every probe on the selected target
(the canary) and on TARGET (the stable fleet) in the same round, so both are measured at the
same moments.  A :class:`CanaryJudge` keeps, per endpoint and per side, counters and a
fixed-size :class:`~pytest_deploysmoke.perf.stats.LatencyHistogram` for the running interval and
for the whole window, never the samples, and judges the canary against the stable target with
:func:`~pytest_deploysmoke.perf.compare.compare` (the same tests and rules as a baseline run,
with the canary's ``[targets.X.compare]`` settings) at each interval's end and at the window's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from pytest_deploysmoke.perf.compare import (
    LATENCY_RULE,
    BaselineIdentity,
    CompareSettings,
    Comparison,
    EndpointComparison,
    compare,
    p_text,
    rate_text,
    shift_text,
)
from pytest_deploysmoke.perf.distributions import EndpointDistribution, Tally

Side = Literal["canary", "stable"]


def label(stable: str) -> str:
    """``target 'stable' (live, same moments)``: how every report names the live baseline."""
    return f"target '{stable}' (live, same moments)"


@dataclass(slots=True)
class PairedTallies:
    """Each endpoint's tallies on the canary and on the stable target, over one interval or the whole window."""

    canary: dict[str, Tally] = field(default_factory=dict)
    stable: dict[str, Tally] = field(default_factory=dict)

    @classmethod
    def of(cls, endpoints: Iterable[str]) -> PairedTallies:
        """Empty tallies of *endpoints*, in the order the comparison lists them."""
        names = dict.fromkeys(endpoints)
        return cls({name: Tally() for name in names}, {name: Tally() for name in names})

    def add(self, side: Side, endpoint: str, ms: float | None, ok: bool) -> None:
        """Count one sample of *endpoint* on *side*."""
        tallies = self.canary if side == "canary" else self.stable
        tally = tallies.get(endpoint)
        if tally is None:
            tally = tallies[endpoint] = Tally()
        tally.add(ms, error=not ok)

    def distributions(self, side: Side) -> tuple[EndpointDistribution, ...]:
        """*side*'s endpoints as distributions, in the order of :meth:`of` (then of the first sample)."""
        tallies = self.canary if side == "canary" else self.stable
        return tuple(tally.as_distribution(endpoint) for endpoint, tally in tallies.items())

    def judged(self, settings: CompareSettings, stable: str) -> Comparison:
        """The canary's endpoints judged against the stable target's."""
        return compare(
            self.distributions("stable"),
            self.distributions("canary"),
            settings,
            label=label(stable),
            identity=BaselineIdentity("target", stable),
        )


class CanaryJudge:
    """The live comparison of one watch window: feed it both sides' samples, ask it at each interval's end."""

    def __init__(self, stable: str, settings: CompareSettings, endpoints: Iterable[str] = ()) -> None:
        self.stable = stable
        self.settings = settings
        self.endpoints = tuple(dict.fromkeys(endpoints))
        self.interval = PairedTallies.of(self.endpoints)
        self.total = PairedTallies.of(self.endpoints)

    def add(self, side: Side, endpoint: str, ms: float | None, ok: bool) -> None:
        """Count one sample of *endpoint* on *side*, in the running interval and in the window."""
        self.interval.add(side, endpoint, ms, ok)
        self.total.add(side, endpoint, ms, ok)

    def end_interval(self) -> Comparison:
        """Judge the interval that just ended, and start the next one.

        Its rows keep the figures, not the two distributions (the window's log keeps one small record per interval).
        """
        judged = self.interval.judged(self.settings, self.stable)
        self.interval = PairedTallies.of(self.endpoints)
        rows = tuple(replace(row, baseline_distribution=None, now_distribution=None) for row in judged.endpoints)
        return replace(judged, endpoints=rows)

    def so_far(self) -> Comparison:
        """Judge the whole window up to now (at its end: the comparison that decides)."""
        return self.total.judged(self.settings, self.stable)

    def stops(self, interval: Comparison) -> tuple[EndpointComparison, ...]:
        """The regressions that stop the window early after *interval*; () when it goes on.

        A regression stops the window as a rollback rule does, only when a regression is a
        rollback (``on_regression = "rollback"``), and only when the interval's judgement (on
        enough samples: a regression is never judged on fewer than ``min_samples``) and the
        whole window's so far both call the endpoint a regression.  Then the window's judgement,
        which decides, is one.
        """
        if self.settings.on_regression != "rollback" or not interval.regressions:
            return ()
        flagged = {row.endpoint for row in interval.regressions}
        return tuple(row for row in self.so_far().regressions if row.endpoint in flagged)


def judgement_line(row: EndpointComparison) -> str:
    """``GET /x p50 45.0 -> 61.0 ms (+36%), p95 47.0 -> 64.0 ms, p = 4.1e-28: regression (latency_regression)``."""
    if row.verdict == "not evaluated":
        return f"{row.endpoint} not evaluated: {row.note}"
    text = f"{row.endpoint} {row.latency_text()}, p = {p_text(row.p_value)}"
    if row.errors_baseline or row.errors_now:
        text += f", {row.error_text()}, p = {p_text(row.error_p_value)}"
    text += f": {row.verdict}"
    if row.rules:
        text += f" ({', '.join(row.rules)})"
    return text + (f"; {row.note}" if row.note else "")


def summary_text(comparison: Comparison) -> str:
    """``regression GET /x p50 +40%``, or ``no regression (2 endpoints judged, 1 not evaluated)``."""
    if comparison.regressions:
        return "regression " + ", ".join(f"{row.endpoint} {_moved(row)}" for row in comparison.regressions)
    unjudged = len(comparison.of("not evaluated"))
    judged = len(comparison.endpoints) - unjudged
    text = f"no regression ({judged} endpoint{'s' if judged != 1 else ''} judged"
    return text + (f", {unjudged} not evaluated)" if unjudged else ")")


def _moved(row: EndpointComparison) -> str:
    """``p50 +40%``, or the error rates when only they regressed."""
    if row.shift_pct is not None and LATENCY_RULE in row.rules:
        return f"p50 {shift_text(row.shift_pct)}"
    return f"error rate {rate_text(row.error_rate_baseline)} -> {rate_text(row.error_rate_now)}"
