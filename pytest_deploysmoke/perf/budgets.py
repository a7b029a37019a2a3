"""Latency budgets: ``"100ms"`` / ``"1.5s"`` / ``0.1`` parsing and the budget check (no pytest)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeAlias

#: What users may write for a duration: seconds as a number, or a string with a unit.
Duration: TypeAlias = int | float | str

_DURATION = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>ms|s|sec|m|min|h)?\s*$", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(value: Duration) -> float:
    """Return *value* in seconds: ``0.1``, ``"100ms"``, ``"1.5s"``, ``"2m"``, ``"1h"``.

    Raises:
        ValueError: *value* is negative, not a number, or has an unknown unit.
    """
    if isinstance(value, bool):
        raise ValueError(f"a duration must be seconds or a string like '100ms', got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            unit = (match["unit"] or "s").lower()
            return float(match["value"]) * _UNITS[unit]
    raise ValueError(f"a duration must be seconds or a string like '100ms' or '1.5s', got {value!r}")


def format_ms(seconds: float) -> str:
    """Format *seconds* the way budgets are shown: ``38 ms``, ``1.25 s``."""
    ms = seconds * 1000
    if ms < 1000:
        return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"
    return f"{seconds:.2f} s"


@dataclass(frozen=True, slots=True)
class Budget:
    """A latency budget: over *limit* fails; over *target* (when given) only warns."""

    limit: float
    target: float | None = None

    @classmethod
    def of(cls, value: Duration | tuple[Duration, Duration] | Budget) -> Budget:
        """Build a budget from ``"100ms"``, ``0.1`` or ``("500ms", "1s")`` (target, limit)."""
        if isinstance(value, Budget):
            return value
        if isinstance(value, (tuple, list)):
            if len(value) != 2:
                raise ValueError(f"a two-level budget is (target, limit), got {value!r}")
            target, limit = parse_duration(value[0]), parse_duration(value[1])
            if target > limit:
                raise ValueError(f"a budget's target must not exceed its limit, got {value!r}")
            return cls(limit=limit, target=target)
        return cls(limit=parse_duration(value))

    def exceeded(self, elapsed: float) -> bool:
        """Whether *elapsed* seconds is over the limit."""
        return elapsed > self.limit

    @property
    def limit_ms(self) -> float:
        """The limit in milliseconds, as call records keep it (``budget_ms``)."""
        return self.limit * 1000

    @property
    def target_ms(self) -> float | None:
        """The target in milliseconds (``target_ms`` of a call record), or None for a single limit."""
        return None if self.target is None else self.target * 1000

    def overrun(self, action: str, elapsed: float, detail: str = "") -> str | None:
        """The failure message when *elapsed* seconds is over the limit, else None.

        ``GET /x took 1.52 s, over its budget of 1.00 s (status 200); is it slower ...?``
        """
        if not self.exceeded(elapsed):
            return None
        detail = f" ({detail})" if detail else ""
        return (
            f"{action} took {format_ms(elapsed)}, over its budget of {format_ms(self.limit)}{detail}; "
            "is it slower since this deploy, or is the budget too tight?"
        )

    def describe(self) -> str:
        """``1 s`` or ``500 ms / 1 s`` (target / limit)."""
        if self.target is None:
            return format_ms(self.limit)
        return f"{format_ms(self.target)} / {format_ms(self.limit)}"


def budget_from_mark(*args: Any, **kwargs: Any) -> Budget:
    """The budget of a ``budget(limit)`` or ``budget(target, limit)`` mark.

    Raises:
        TypeError: the mark has keyword arguments or the wrong number of arguments.
        ValueError: a duration is not understood, or the target exceeds the limit.
    """
    if kwargs:
        raise TypeError(f"takes positional arguments only, budget(limit) or budget(target, limit); got {kwargs}")
    if len(args) == 1:
        return Budget.of(args[0])
    if len(args) == 2:
        return Budget.of((args[0], args[1]))
    raise TypeError(f"takes budget(limit) or budget(target, limit), got {len(args)} arguments")
