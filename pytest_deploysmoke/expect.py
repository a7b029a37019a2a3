"""Assertion helpers with messages people can act on: expect_status, expect_json, poll_until."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from pytest_deploysmoke.clients.network import answered, attempt_failure, excerpt, request_name
from pytest_deploysmoke.errors import DeploySmokeError, unchecked
from pytest_deploysmoke.perf.budgets import Duration, parse_duration

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

POLL_VALUE_CHARS = 300


def expect_status(response: httpx.Response, *expected: int) -> httpx.Response:
    """Fail unless the response's status is one of *expected* (default: any 2xx); return the response."""
    __tracebackhide__ = True
    ok = response.status_code in expected if expected else response.is_success
    if not ok:
        wanted = " or ".join(str(code) for code in expected) if expected else "2xx"
        raise unchecked(f"{answered(response)}, expected {wanted}: {excerpt(response.text)}")
    return response


def expect_json(response: httpx.Response, expected: Any = None) -> Any:
    """Parse the body as JSON and check that it contains *expected*; return the parsed body.

    Dicts match as subsets (extra keys are fine), lists element by element, and a callable
    in *expected* is a predicate on the value at that place.  The failure lists every
    difference by its JSON path.
    """
    __tracebackhide__ = True
    problem: str | None = None
    try:
        body = response.json()
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        problem = (
            f"{exc.msg} at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        )
    if problem is not None:  # failed outside the handler, so no chained json traceback is shown
        raise unchecked(
            f"{answered(response)} with a body that is not valid JSON ({problem}): {excerpt(response.text)}"
        )
    if expected is not None:
        expect_data(body, expected, what=f"{request_name(response.request)} JSON")
    return body


def expect_data(value: Any, expected: Any, *, what: str = "the value") -> Any:
    """Check parsed data the way expect_json checks a body: a downloaded file, a WebSocket message.

    Fails with ``{what} differs from what was expected: $.path: ...``; returns *value*.
    """
    __tracebackhide__ = True
    differences = json_differences(value, expected)
    if differences:
        pytest.fail(f"{what} differs from what was expected: {'; '.join(differences)}", pytrace=False)
    return value


def json_differences(actual: Any, expected: Any, path: str = "$") -> list[str]:
    """Where *actual* does not contain *expected*, as ``$.a.b: expected 1, got 2`` lines."""
    if callable(expected) and not isinstance(expected, type):
        try:
            ok = bool(expected(actual))
        except Exception as exc:  # a predicate that raises is a mismatch, with its reason
            return [f"{path}: check {getattr(expected, '__name__', 'predicate')} raised {exc!r} on {actual!r}"]
        return [] if ok else [f"{path}: {actual!r} does not satisfy {getattr(expected, '__name__', 'predicate')}"]
    if isinstance(expected, type):
        if _is_instance(actual, expected):
            return []
        got = "None" if actual is None else f"{type(actual).__name__} {actual!r}"
        return [f"{path}: expected {expected.__name__}, got {got}"]
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{path}: expected an object, got {actual!r}"]
        found: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                found.append(f"{path}.{key}: missing")
            else:
                found += json_differences(actual[key], value, f"{path}.{key}")
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {actual!r}"]
        if len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {len(actual)}"]
        found = []
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            found += json_differences(got, want, f"{path}[{index}]")
        return found
    if actual != expected or (type(actual) is not type(expected) and not _both_numbers(actual, expected)):
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def _is_instance(value: Any, expected: type) -> bool:
    """Whether *value* is of the JSON type *expected*: ``true`` is not an ``int``, ``1`` is a ``float``."""
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, expected)


def _both_numbers(a: Any, b: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))


def poll_until(
    fn: Callable[[], T],
    until: Callable[[T], bool] | None = None,
    *,
    timeout: Duration = 30.0,
    every: Duration = 1.0,
) -> T:
    """Call *fn* until ``until(value)`` holds (default: the value is truthy); return that value.

    Exceptions from *fn* count as "not yet" (a service still restarting refuses connections).
    When *timeout* passes, the check fails with the number of attempts, the elapsed time and
    the last value or exception, an HTTP client's error named as every failure names it
    (``GET /health: connection refused``).
    """
    __tracebackhide__ = True
    limit, pause = parse_duration(timeout), parse_duration(every)
    started = time.monotonic()
    attempts = 0
    last = "nothing yet"
    while True:
        attempts += 1
        try:
            value = fn()
        except DeploySmokeError:
            raise  # a blocked write or a blown budget is a failure, not "not yet"
        except Exception as exc:
            last = attempt_failure(exc)
        else:
            try:
                done = until(value) if until is not None else bool(value)
            except Exception as exc:  # a condition that raises is not met, and says why
                done = False
                last = f"{value!r} (the condition raised {type(exc).__name__}: {exc})"
            else:
                last = repr(value)
            if done:
                return value
        elapsed = time.monotonic() - started
        if elapsed + pause > limit:
            name = getattr(fn, "__name__", "the call")
            shown = excerpt(last, POLL_VALUE_CHARS)
            raise unchecked(
                f"poll_until({name}): condition not met after {attempts} attempts in {elapsed:.1f} s "
                f"(timeout {limit:g} s, every {pause:g} s); last value: {shown}"
            )
        time.sleep(pause)
