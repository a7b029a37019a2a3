"""Latency statistics: a bounded log-bucketed histogram and the LatencyStats a check asserts on (no pytest).

:class:`LatencyHistogram` follows the HdrHistogram scheme: values are counted in a fixed array
of buckets whose width doubles with each power of two, so memory does not grow with the number
of samples and every reported percentile is within a stated relative error of the exact one.
:class:`LatencyStats` is what the ``latency`` fixture returns; its millisecond fields are
:class:`Millis`, floats that compare with durations (``stats.p95 < "2s"``) and whose ``repr``
shows the whole distribution, so a failed ``assert`` explains itself.  ``errors`` and
``error_rate`` are a :class:`Count` and a :class:`Rate`, whose ``repr`` names the measured
endpoint and its errors in the same way.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, final

from pytest_deploysmoke.perf.budgets import parse_duration

#: Significant decimal digits of the ``latency`` histograms: reported values are within 1 %.
SIGNIFICANT_DIGITS: Final = 2
#: The largest value a histogram tells apart, in microseconds (2**36 µs, about 19 hours); larger
#: values share its bucket, which reports the exact maximum (min, max and mean stay exact).
HIGHEST_TRACKABLE_US: Final = 2**36 - 1
#: Percentiles :class:`LatencyStats` reports.
PERCENTILES: Final = (50.0, 95.0, 99.0)


@final
class LatencyHistogram:
    """A fixed-size histogram of latencies in the HdrHistogram scheme: bounded memory, stated error.

    Values are recorded in milliseconds and counted in whole microseconds.  With *significant_digits*
    ``d`` each power-of-two range of values is split into ``2**ceil(log2(2 * 10**d)) / 2`` equal
    buckets (128 for ``d = 2``), so a bucket is never wider than ``1/128`` of the values in it.
    A percentile is reported as the upper end of the bucket holding the exact sample, capped at
    the exact maximum: it is never below the exact nearest-rank percentile and at most 1/128
    (0.78 %, under 1 % as two significant digits promise) above it.  Values under 0.256 ms
    fall in 1 µs buckets and are exact to the microsecond.  ``min``, ``max`` and ``mean`` are
    kept exactly, beside the buckets.

    The buckets are allocated once (3,840 counters for ``d = 2`` up to :data:`HIGHEST_TRACKABLE_US`,
    30 KiB): recording a million values uses the same memory as recording ten.
    """

    __slots__ = (
        "_counts",
        "_highest_us",
        "_max",
        "_min",
        "_sub_bucket_half",
        "_sub_bucket_half_magnitude",
        "_sub_bucket_mask",
        "_sum",
        "_top_index",
        "_total",
        "significant_digits",
    )

    def __init__(self, significant_digits: int = SIGNIFICANT_DIGITS, highest_us: int = HIGHEST_TRACKABLE_US) -> None:
        if not 1 <= significant_digits <= 5:
            raise ValueError(f"significant_digits must be 1 to 5, got {significant_digits!r}")
        if highest_us < 2:
            raise ValueError(f"highest_us must be at least 2, got {highest_us!r}")
        self.significant_digits = significant_digits
        sub_bucket_count_magnitude = math.ceil(math.log2(2 * 10**significant_digits))
        self._sub_bucket_half_magnitude = sub_bucket_count_magnitude - 1
        self._sub_bucket_half = 1 << self._sub_bucket_half_magnitude
        sub_bucket_count = 1 << sub_bucket_count_magnitude
        self._sub_bucket_mask = sub_bucket_count - 1
        self._highest_us = highest_us
        bucket_count, smallest_untrackable = 1, sub_bucket_count
        while smallest_untrackable <= highest_us:
            smallest_untrackable <<= 1
            bucket_count += 1
        self._counts = array("Q", bytes(8 * (bucket_count + 1) * self._sub_bucket_half))
        self._top_index = self._index(highest_us)
        self._total = 0
        self._sum = 0.0
        self._min = math.inf
        self._max = -math.inf

    @property
    def relative_error(self) -> float:
        """The largest relative error of a reported percentile: ``1/128`` for two significant digits."""
        return 1 / self._sub_bucket_half

    @property
    def bucket_count(self) -> int:
        """How many counters the histogram holds; fixed when it is made, whatever is recorded."""
        return len(self._counts)

    @property
    def count(self) -> int:
        """How many values were recorded."""
        return self._total

    @property
    def min(self) -> float:
        """The smallest value recorded, in ms (exact); NaN when empty."""
        return self._min if self._total else math.nan

    @property
    def max(self) -> float:
        """The largest value recorded, in ms (exact); NaN when empty."""
        return self._max if self._total else math.nan

    @property
    def mean(self) -> float:
        """The mean of the values recorded, in ms (exact); NaN when empty."""
        return self._sum / self._total if self._total else math.nan

    def record(self, ms: float, count: int = 1) -> None:
        """Count *count* latencies of *ms* milliseconds each.

        Raises:
            ValueError: *ms* is negative, infinite or NaN, or *count* is under 1.
        """
        if not (ms >= 0 and math.isfinite(ms)):
            raise ValueError(f"a latency must be a finite number of ms >= 0, got {ms!r}")
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count!r}")
        self._counts[self._index(min(round(ms * 1000), self._highest_us))] += count
        self._total += count
        self._sum += ms * count
        self._min = min(self._min, ms)
        self._max = max(self._max, ms)

    def buckets(self) -> tuple[tuple[float, int], ...]:
        """The non-empty buckets, lowest first: each one's highest value in ms, and its count.

        Recording each pair again (``record(ms, count)``) into an empty histogram of the same
        significant digits fills the same buckets: this is how a run's distribution is written
        to the JSON summary and read back for a comparison.  The top bucket is reported at the
        exact maximum, since it also holds every value past the highest trackable one.
        """
        pairs = []
        for index, count in enumerate(self._counts):
            if count:
                top = index == self._top_index
                ms = self._max if top else min(self._highest_equivalent_ms(index), self._max)
                pairs.append((ms, count))
        return tuple(pairs)

    def merge(self, other: LatencyHistogram) -> None:
        """Add every value *other* counted (the same significant digits and highest value)."""
        if (other.significant_digits, other._highest_us) != (self.significant_digits, self._highest_us):
            raise ValueError("only histograms of the same significant digits and highest value merge")
        if not other._total:
            return
        for index, count in enumerate(other._counts):
            if count:
                self._counts[index] += count
        self._total += other._total
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    def percentile(self, q: float) -> float:
        """The *q*-th percentile (0 to 100) in ms, nearest rank, within :attr:`relative_error`; NaN when empty."""
        return self.percentiles((q,))[0]

    def percentiles(self, qs: Sequence[float]) -> tuple[float, ...]:
        """Several percentiles in one pass over the buckets (see :meth:`percentile`)."""
        for q in qs:
            if not 0 <= q <= 100:
                raise ValueError(f"a percentile is from 0 to 100, got {q!r}")
        if not self._total:
            return tuple(math.nan for _ in qs)
        # Nearest rank: the smallest value with at least q % of the values at or below it.  The
        # epsilon keeps 95 % of 20 at rank 19 when q * n / 100 comes out as 19.000000000000004.
        ranks = [max(1, math.ceil(q * self._total / 100 - 1e-9)) for q in qs]
        found: dict[int, float] = {}
        wanted = sorted(set(ranks))
        seen = 0
        for index, count in enumerate(self._counts):
            if not count:
                continue
            seen += count
            while wanted and seen >= wanted[0]:
                # The top bucket also holds every value past the highest trackable one.
                top = index == self._top_index
                found[wanted.pop(0)] = self._max if top else self._highest_equivalent_ms(index)
            if not wanted:
                break
        return tuple(min(max(found[rank], self._min), self._max) for rank in ranks)

    def _index(self, value_us: int) -> int:
        # HdrHistogram's counts index: the power-of-two bucket from the leading bit, then the
        # sub-bucket within it; bucket 0 holds 0 .. 2 * half - 1 at 1 µs resolution.
        bucket = max(0, (value_us | self._sub_bucket_mask).bit_length() - (self._sub_bucket_half_magnitude + 1))
        sub_bucket = value_us >> bucket
        return ((bucket + 1) << self._sub_bucket_half_magnitude) + sub_bucket - self._sub_bucket_half

    def _highest_equivalent_ms(self, index: int) -> float:
        bucket = (index >> self._sub_bucket_half_magnitude) - 1
        sub_bucket = (index & (self._sub_bucket_half - 1)) + self._sub_bucket_half
        if bucket < 0:
            sub_bucket -= self._sub_bucket_half
            bucket = 0
        lowest = sub_bucket << bucket
        return (lowest + (1 << bucket) - 1) / 1000

    def __repr__(self) -> str:
        return (
            f"<LatencyHistogram {self._total} values, {self.significant_digits} significant digits, "
            f"{self.bucket_count} buckets>"
        )


def ms_text(ms: float) -> str:
    """*ms* as a report shows it: one decimal under 10 ms, none from there; ``n/a`` for no figure."""
    ms = float(ms)  # a Millis compares with seconds; here the plain number of ms is meant
    if math.isnan(ms):
        return "n/a"
    return f"{ms:.1f}" if ms < 10 else f"{ms:.0f}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@final
class Millis(float):
    """A latency in milliseconds that compares with durations and shows its distribution.

    The float value is milliseconds.  Comparisons take what ``budget=`` takes: a string with a
    unit (``"2s"``, ``"300ms"``) or a plain number, which means **seconds**, as everywhere in the
    plugin; so ``stats.p95 < 2`` is "under two seconds".  Another :class:`Millis` compares as
    milliseconds.  ``repr()`` (what a failed ``assert`` shows) is the value with the whole
    distribution it came from; ``str()`` is the value alone (``"2450 ms"``).
    """

    __slots__ = ("action", "label", "summary")

    label: str
    summary: str
    #: What was measured (``GET /api/markets``): the ``repr`` names it, so a failed assert says which endpoint.
    action: str

    def __new__(cls, ms: float, label: str = "", summary: str = "", action: str = "") -> Millis:
        self = super().__new__(cls, ms)
        self.label = label
        self.summary = summary
        self.action = action
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Millis, (float(self), self.label, self.summary, self.action))

    def __repr__(self) -> str:
        value = str(self)
        if not self.summary:
            return value
        label = " ".join(part for part in (self.action, self.label) if part)
        return f"{value} ({label} {self.summary})" if label else f"{value} ({self.summary})"

    def __str__(self) -> str:
        return f"{ms_text(self)} ms" if not math.isnan(self) else "n/a"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else float(self).__format__(spec)

    @staticmethod
    def _other_ms(other: object) -> float | None:
        if isinstance(other, Millis):
            return float(other)
        if isinstance(other, (int, float, str)) and not isinstance(other, bool):
            return parse_duration(other) * 1000
        return None

    def __lt__(self, other: object) -> bool:
        ms = self._other_ms(other)
        return NotImplemented if ms is None else float(self) < ms

    def __le__(self, other: object) -> bool:
        ms = self._other_ms(other)
        return NotImplemented if ms is None else float(self) <= ms

    def __gt__(self, other: object) -> bool:
        ms = self._other_ms(other)
        return NotImplemented if ms is None else float(self) > ms

    def __ge__(self, other: object) -> bool:
        ms = self._other_ms(other)
        return NotImplemented if ms is None else float(self) >= ms

    def __eq__(self, other: object) -> bool:
        try:
            ms = self._other_ms(other)
        except ValueError:  # "fast" is not a duration, so it is not equal either
            return False
        return NotImplemented if ms is None else float(self) == ms

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        # Equal to the number of seconds it equals (Millis(50.0) == 0.05), so hash like it.
        return hash(float(self) / 1000)


@final
class Count(int):
    """A measurement's ``errors``: an ``int`` whose ``repr`` (what a failed ``assert`` shows) names what
    was measured and its errors, ``10 (GET /api/markets: 20 requests, 10 errors: 500 x10)``."""

    summary: str  # an int subclass takes no __slots__

    def __new__(cls, value: int, summary: str = "") -> Count:
        self = super().__new__(cls, value)
        self.summary = summary
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Count, (int(self), self.summary))

    def __repr__(self) -> str:
        return f"{int(self)} ({self.summary})" if self.summary else str(int(self))

    def __str__(self) -> str:
        return str(int(self))


@final
class Rate(float):
    """A measurement's ``error_rate``: a ``float`` whose ``repr`` names what was measured and its errors,
    ``0.5 (GET /api/markets: 20 requests, 10 errors: 500 x10)``."""

    __slots__ = ("summary",)

    summary: str

    def __new__(cls, value: float, summary: str = "") -> Rate:
        self = super().__new__(cls, value)
        self.summary = summary
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Rate, (float(self), self.summary))

    def __repr__(self) -> str:
        value = float.__repr__(self)
        return f"{value} ({self.summary})" if self.summary else value

    def __str__(self) -> str:
        return float.__repr__(self)


@dataclass(frozen=True, slots=True, repr=False)
class LatencyStats:  # not @final: loadprobe.LoadStats adds the load figures
    """What one ``latency(...)`` measurement saw: counts, errors and the latency distribution.

    The ms fields are :class:`Millis`: ``assert stats.p95 < "2s"`` works, and its failure shows
    the whole distribution.  Every field an assert reads names the measured endpoint in its
    ``repr``, so ``assert stats.errors == 0`` fails with ``assert 10 (GET /api/markets: ...) == 0``.
    The distribution covers the measured requests that got an answer (any status); a request
    that got none (refused, timed out, ...) is an error and is left out.
    With no answer at all, the ms fields are NaN, which compares false with everything.
    """

    action: str
    count: int  # measured requests, warm-up excluded
    errors: int  # of those: no answer, or a status counted as an error
    error_rate: float  # errors / count, 0.0 to 1.0
    warmup: int  # warm-up requests sent before measuring, left out of every other field
    min: Millis
    p50: Millis
    p95: Millis
    p99: Millis
    max: Millis
    mean: Millis
    concurrency: int
    elapsed_s: float  # wall time of the measured requests
    unanswered: int = 0  # errors that got no answer at all (in errors, not in the distribution)
    error_outcomes: tuple[tuple[str, int], ...] = ()  # ("500", 2), ("timed out", 1): most frequent first

    def __post_init__(self) -> None:
        # However the stats were built (a histogram, Locust's figures, a load run's copy), the
        # figures an assert reads carry the endpoint, so its failure says what was measured.
        head = f"{self.action}: " if self.action else ""
        summary = f"{head}{_plural(self.count, 'request')}, {self.errors_text}"
        object.__setattr__(self, "errors", Count(self.errors, summary))
        object.__setattr__(self, "error_rate", Rate(self.error_rate, summary))
        for name in ("min", "p50", "p95", "p99", "max", "mean"):
            ms = getattr(self, name)
            if isinstance(ms, Millis) and ms.action != self.action:
                object.__setattr__(self, name, Millis(float(ms), ms.label, ms.summary, self.action))

    @classmethod
    def from_histogram(
        cls,
        histogram: LatencyHistogram,
        *,
        action: str = "",
        errors: int = 0,
        unanswered: int = 0,
        warmup: int = 0,
        concurrency: int = 1,
        elapsed_s: float = 0.0,
        error_outcomes: Iterable[tuple[str, int]] = (),
    ) -> LatencyStats:
        """Summarise *histogram*; every ms field carries the same distribution for its ``repr``."""
        count = histogram.count + unanswered
        outcomes = tuple(sorted(error_outcomes, key=lambda pair: (-pair[1], pair[0])))
        p50, p95, p99 = histogram.percentiles(PERCENTILES)
        values = {"min": histogram.min, "p50": p50, "p95": p95, "p99": p99, "max": histogram.max}
        spread = ", ".join(f"{name} {ms_text(ms)}" for name, ms in values.items())
        answered = histogram.count
        size = f"of {answered}" if answered == count else f"of {answered} answered"
        summary = f"{size}: {spread}; {_errors_text(errors, unanswered, outcomes)}"
        if not answered:
            summary = f"of 0: no answers; {_errors_text(errors, unanswered, outcomes)}"
        return cls(
            action=action,
            count=count,
            errors=errors,
            error_rate=errors / count if count else 0.0,
            warmup=warmup,
            min=Millis(histogram.min, "min", summary),
            p50=Millis(p50, "p50", summary),
            p95=Millis(p95, "p95", summary),
            p99=Millis(p99, "p99", summary),
            max=Millis(histogram.max, "max", summary),
            mean=Millis(histogram.mean, "mean", summary),
            concurrency=concurrency,
            elapsed_s=elapsed_s,
            unanswered=unanswered,
            error_outcomes=outcomes,
        )

    @property
    def distribution(self) -> str:
        """``min 12, p50 30, p95 2450, p99 2600, max 2700 ms``."""
        spread = ", ".join(f"{name} {ms_text(getattr(self, name))}" for name in ("min", "p50", "p95", "p99", "max"))
        return f"{spread} ms" if self.count > self.unanswered else "no answers"

    @property
    def error_summary(self) -> str:
        """``GET /api/markets: 3 errors: 500 x2, timed out x1``: the endpoint and its errors, most frequent
        first, for ``assert stats.errors == 0, stats.error_summary``."""
        return f"{self.action}: {self.errors_text}" if self.action else self.errors_text

    @property
    def errors_text(self) -> str:
        """``0 errors``, or ``3 errors: 500 x2, timed out x1``: :attr:`error_summary` without the endpoint."""
        return _errors_text(self.errors, self.unanswered, self.error_outcomes)

    def describe(self) -> str:
        """One line: ``GET /x: 20 requests (+1 warm-up), concurrency 1, 0.41 s: min 20, ... ms; 0 errors``."""
        requests = _plural(self.count, "request")
        warmup = f" (+{self.warmup} warm-up)" if self.warmup else ""
        head = f"{self.action}: " if self.action else ""
        mean = f", mean {self.mean}" if self.count > self.unanswered else ""
        return (
            f"{head}{requests}{warmup}, concurrency {self.concurrency}, {self.elapsed_s:.2f} s: "
            f"{self.distribution}{mean}; {self.errors_text} ({self.error_rate:.1%})"
        )

    def __repr__(self) -> str:
        return f"<LatencyStats {self.describe()}>"


def _errors_text(errors: int, unanswered: int, outcomes: Sequence[tuple[str, int]]) -> str:
    text = _plural(errors, "error")
    if outcomes:
        shown = ", ".join(f"{outcome} x{count}" for outcome, count in outcomes[:4])
        more = ", ..." if len(outcomes) > 4 else ""
        text += f": {shown}{more}"
    elif unanswered:
        text += f", {unanswered} without an answer"
    return text
