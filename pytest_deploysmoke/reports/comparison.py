"""The comparison table: this run against its baseline per endpoint, for the ticket, HTML and terminal (no pytest).

One row per compared endpoint, baseline → now: answered requests, p50, p95, error rate, the
median's shift, the Mann-Whitney p-value, the verdict (regression / improvement / no
significant change / not evaluated) and its note.  The cells are plain text; each writer
escapes them its way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from pytest_deploysmoke.perf.compare import (
    ENDPOINT_VERDICTS,
    ERROR_RULE,
    Comparison,
    EndpointComparison,
    EndpointVerdict,
    ms_text,
    p_text,
    rate_text,
    shift_text,
)
from pytest_deploysmoke.reports.monitoring import UNKNOWN

#: How many endpoints a "not compared" note names, at most, on each side.
NAMED_AT_MOST: Final = 10
#: What the verdict makes of a regression, by ``on_regression``.
_DECISIONS: Final = {"rollback": "ROLLBACK", "no-go": "NO-GO"}


@dataclass(frozen=True, slots=True)
class ComparisonTable:
    """The table's heading sentence, header and rows (plain text), each row's verdict, and notes under it."""

    #: ``Against <baseline>: confidence 0.98 (p < 0.02), ...; a regression makes the verdict ROLLBACK.``
    lead: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: Each row's verdict, in row order: the writers colour a regression and an improvement.
    verdicts: tuple[EndpointVerdict, ...]
    #: The columns holding figures (right-aligned), by index.
    numeric: tuple[int, ...]
    #: Sentences under the table: the endpoints not compared, or that nothing was.
    notes: tuple[str, ...]


HEADER: Final = (
    "Endpoint",
    "n (baseline → now)",
    "p50 ms",
    "p95 ms",
    "Error rate",
    "Shift (p50)",
    "p-value",
    "Verdict",
    "Note",
)


def comparison_table(comparison: Comparison) -> ComparisonTable:
    """The comparison table of *comparison*: one row per endpoint it judged, in its order."""
    settings = comparison.settings
    lead = (
        f"Against {comparison.baseline}: {settings.describe()}; "
        f"a regression makes the verdict {_DECISIONS[settings.on_regression]}."
    )
    rows = tuple(_row(row) for row in comparison.endpoints)
    return ComparisonTable(
        lead,
        HEADER,
        rows,
        tuple(row.verdict for row in comparison.endpoints),
        (1, 2, 3, 4, 5, 6),
        _notes(comparison),
    )


def counts(comparison: Comparison) -> str:
    """``5 endpoints: 1 regression, 1 improvement, 2 no significant change, 1 not evaluated`` (no zero counts)."""
    total = len(comparison.endpoints)
    parts = [f"{len(comparison.of(verdict))} {verdict}" for verdict in ENDPOINT_VERDICTS if comparison.of(verdict)]
    return f"{total} endpoint{'' if total == 1 else 's'}" + (f": {', '.join(parts)}" if parts else "")


TerminalKind = Literal["summary", "regression", "improvement"]


def terminal_lines(comparison: Comparison) -> tuple[tuple[TerminalKind, str], ...]:
    """The terminal's few lines: the baseline and the counts, then each regression and improvement with its figures.

    The endpoints not evaluated are the verdict's warnings, printed with the others.
    """
    lines: list[tuple[TerminalKind, str]] = [("summary", f"compared with {comparison.baseline}: {counts(comparison)}")]
    for kind in ("regression", "improvement"):
        for row in comparison.of(kind):
            lines.append((kind, f"  {kind} {row.endpoint}: {_figures(row)}"))
    return tuple(lines)


def _figures(row: EndpointComparison) -> str:
    """``p50 12.0 -> 17.1 ms (+42%), p95 15.0 -> 21.0 ms, p = 0.0001``, and the error rates when they count."""
    text = f"{row.latency_text()}, p = {p_text(row.p_value)}"
    if ERROR_RULE in row.rules:
        text += f"; {row.error_text()}, p = {p_text(row.error_p_value)}"
    return text


def _row(row: EndpointComparison) -> tuple[str, ...]:
    verdict = row.verdict + (f": {', '.join(row.rules)}" if row.rules else "")
    note = row.note
    if ERROR_RULE in row.rules:
        errors = f"errors p = {p_text(row.error_p_value)} (Fisher's exact test)"
        note = f"{errors}; {note}" if note else errors
    return (
        row.endpoint,
        f"{row.n_baseline} → {row.n_now}",
        _pair(ms_text(row.p50_baseline_ms), ms_text(row.p50_now_ms)),
        _pair(ms_text(row.p95_baseline_ms), ms_text(row.p95_now_ms)),
        _pair(rate_text(row.error_rate_baseline), rate_text(row.error_rate_now)),
        UNKNOWN if row.shift_pct is None else shift_text(row.shift_pct),
        UNKNOWN if row.p_value is None else p_text(row.p_value),
        verdict,
        note,
    )


def _pair(before: str, after: str) -> str:
    return f"{before.replace('n/a', UNKNOWN)} → {after.replace('n/a', UNKNOWN)}"


def _notes(comparison: Comparison) -> tuple[str, ...]:
    notes = []
    if not comparison.endpoints:
        notes.append("Nothing was compared: the baseline and this run have no endpoint in common.")
    sides = [
        f"only in the baseline: {_names(comparison.only_baseline)}" if comparison.only_baseline else "",
        f"only now: {_names(comparison.only_now)}" if comparison.only_now else "",
    ]
    if any(sides):
        notes.append(f"Not compared, measured {'; '.join(side for side in sides if side)}.")
    return tuple(notes)


def _names(endpoints: Sequence[str]) -> str:
    shown = ", ".join(endpoints[:NAMED_AT_MOST])
    more = len(endpoints) - NAMED_AT_MOST
    return shown + (f" and {more} more" if more > 0 else "")
