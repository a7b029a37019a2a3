"""Trace context: the W3C ``traceparent`` header every call carries, and the trace a check's calls share.

A check is one trace: its trace id is drawn when the check starts, and every HTTP request,
WebSocket open and browser request it makes carries it, each with a span id of its own (a retry
too).  A fixture wider than a check (a session login, a throwaway user) gets a trace of its own
each time it sets up or cleans up; a call outside any check and any fixture gets one of its own.
A header the caller set is sent as it is.  The header is written here, with the standard library
only (https://www.w3.org/TR/trace-context/#traceparent-header).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pytest

from pytest_deploysmoke.results import records

#: The header's name; HTTP header names are case-insensitive, and this is how the spec writes it.
TRACEPARENT: Final = "traceparent"
#: ``00``: the only version of the header the spec defines so far.
VERSION: Final = "00"
#: ``01``: sampled, so that a tracer that samples by its parent keeps the spans of a smoke check.
SAMPLED: Final = "01"
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16
# version-trace_id-parent_id-flags, lower-case hex; a later version may add fields after a "-".
_HEADER: Final = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")

#: The trace id of the check now running, drawn when it starts (item stash).
check_trace_key = pytest.StashKey[str]()
#: The trace id of each wide fixture now setting up or cleaning up, by name (config stash).
fixture_traces_key = pytest.StashKey[dict[str, str]]()


def new_trace_id() -> str:
    """32 random lower-case hex digits, never all zeros (the spec's invalid id)."""
    while (trace_id := secrets.token_hex(16)) == _ZERO_TRACE:
        pass  # pragma: no cover - one chance in 2**128
    return trace_id


def new_span_id() -> str:
    """16 random lower-case hex digits, never all zeros."""
    while (span_id := secrets.token_hex(8)) == _ZERO_SPAN:
        pass  # pragma: no cover - one chance in 2**64
    return span_id


def traceparent(trace_id: str, span_id: str | None = None) -> str:
    """``00-<trace_id>-<span_id>-01``: the header of one call in trace *trace_id* (a new span id unless given)."""
    return f"{VERSION}-{trace_id}-{span_id or new_span_id()}-{SAMPLED}"


def trace_id_of(header: str) -> str:
    """The trace id a ``traceparent`` value carries, or "" when it is not a valid one."""
    match = _HEADER.fullmatch(header.strip())
    if match is None:
        return ""
    version, trace_id, span_id, _, rest = match.groups()
    if version == "ff" or (version == VERSION and rest) or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return ""
    return trace_id


def header_in(headers: Mapping[str, str]) -> str | None:
    """The ``traceparent`` value among *headers*, whatever the case of its name, or None."""
    return next((value for name, value in headers.items() if name.lower() == TRACEPARENT), None)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What one call sends: a header in the current trace with a new span each time, or the caller's own."""

    #: The trace its records carry: the current trace's, or the caller's header's ("" when that is not valid).
    trace_id: str
    #: The ``traceparent`` the caller set, sent unchanged on every attempt ("" when it set none).
    kept: str = ""

    def header(self) -> str:
        """The value to send now: the caller's header, else a new span in the trace."""
        return self.kept or traceparent(self.trace_id)


def outgoing(config: pytest.Config, own: str | None = None) -> Outgoing:
    """What a call about to be sent carries; *own* is the ``traceparent`` its caller set, if any."""
    if own:
        return Outgoing(trace_id_of(own), own)
    return Outgoing(current_trace_id(config))


def begin_check(item: pytest.Item) -> None:
    """Draw the trace of *item*, which is starting (a rerun starts a new one)."""
    item.stash[check_trace_key] = new_trace_id()


def check_trace_id(item: pytest.Item) -> str:
    """The trace of check *item*, drawn now when it has none yet."""
    trace_id = item.stash.get(check_trace_key, None)
    if trace_id is None:
        trace_id = item.stash[check_trace_key] = new_trace_id()
    return trace_id


def begin_fixture(config: pytest.Config, name: str) -> None:
    """Draw a trace for fixture *name*, wider than a check, which starts to set up or to clean up."""
    _fixture_traces(config)[name] = new_trace_id()


def current_trace_id(config: pytest.Config) -> str:
    """The trace of the call about to be sent: the wide fixture's now busy, else the running check's,
    else (outside both) a trace of its own."""
    log = config.stash.get(records.fixture_log_key, None)
    if log is not None and log.active:
        traces = _fixture_traces(config)
        name = log.active[-1]
        trace_id = traces.get(name)
        if trace_id is None:
            trace_id = traces[name] = new_trace_id()
        return trace_id
    item = records.current_item(config)
    return check_trace_id(item) if item is not None else new_trace_id()


def _fixture_traces(config: pytest.Config) -> dict[str, str]:
    traces = config.stash.get(fixture_traces_key, None)
    if traces is None:
        traces = config.stash[fixture_traces_key] = {}
    return traces
