"""Fault rules for the rehearsal proxy: read them from TOML, match calls, decide when each fires (stdlib only).

This module is loaded twice: as ``pytest_deploysmoke.faults.rules`` by the plugin's tooling, and as
a top-level ``rules`` module by the mitmproxy addon next to it (``addon.py``), which runs in
mitmproxy's own Python where the plugin may not be installed.  So it imports nothing but the
standard library (and ``tomli`` on Python 3.10).

A rules file is a list of ``[[fault]]`` tables::

    [[fault]]
    match = "GET /health"          # METHOD PATH-GLOB, or PATH-GLOB for any method; the query is not matched
    kind = "json"                  # see KINDS
    set = { status = "degraded" }  # dotted paths; list items by index: "items.0.price"
    rate = 0.3                     # the share of matching calls it fires on, spread evenly (default 1)
    after = 2                      # let the first 2 matching calls (WebSocket kinds: messages) through
    times = 5                      # fire at most 5 times (default: no limit)
"""

from __future__ import annotations

import fnmatch
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: What each kind does, and the keys it takes besides the common ``name``, ``match``, ``kind``,
#: ``rate``, ``after`` and ``times``.
KINDS: Final[Mapping[str, str]] = {
    "status": "answer with `status` (and `body`) instead of the service, as a load balancer does",
    "delay": "hold the request `seconds` before passing it on",
    "reset": "drop the connection without an answer",
    "truncate": "cut the answer's body in half and close the connection (Content-Length unchanged)",
    "invalid_json": "cut the answer's body in half and send it as complete (status unchanged)",
    "json": "`set` dotted paths to values and `remove` dotted paths in a JSON answer (status unchanged)",
    "headers": "`set` response headers and `remove` response headers",
    "ws_close": "close a WebSocket with `code` (default 1011) and `reason` instead of passing a message",
    "ws_silence": "stop passing the service's WebSocket messages (the connection stays open)",
    "ws_delay": "hold each of the service's WebSocket messages `seconds`",
}
WEBSOCKET_KINDS: Final = frozenset({"ws_close", "ws_silence", "ws_delay"})
#: The kinds that act before the service is asked (the others change its answer).
REQUEST_KINDS: Final = frozenset({"status", "delay", "reset"})
#: The kinds that change the service's HTTP answer.
RESPONSE_KINDS: Final = frozenset(KINDS) - REQUEST_KINDS - WEBSOCKET_KINDS

_COMMON: Final = frozenset({"name", "match", "kind", "rate", "after", "times"})
_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "status": frozenset({"status", "body", "content_type"}),
    "delay": frozenset({"seconds"}),
    "reset": frozenset(),
    "truncate": frozenset(),
    "invalid_json": frozenset(),
    "json": frozenset({"set", "remove"}),
    "headers": frozenset({"set", "remove"}),
    "ws_close": frozenset({"code", "reason"}),
    "ws_silence": frozenset(),
    "ws_delay": frozenset({"seconds"}),
}
#: The content type of a status fault's own answer, unless the fault gives one.
DEFAULT_CONTENT_TYPE: Final = "text/html; charset=utf-8"
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "WS"})


class RulesError(ValueError):
    """A rules file that cannot be used: one line naming the fault, the key and what to write."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One ``[[fault]]`` table, validated."""

    name: str
    kind: str
    method: str | None  # None: any method; "WS" matches WebSocket upgrades only
    path: str  # a glob on the path, without the query
    rate: float = 1.0
    after: int = 0
    times: int | None = None
    status: int = 503
    body: str = ""
    content_type: str = DEFAULT_CONTENT_TYPE
    seconds: float = 0.0
    set: Mapping[str, Any] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    code: int = 1011
    reason: str = ""

    @property
    def websocket(self) -> bool:
        return self.kind in WEBSOCKET_KINDS

    def matches(self, method: str, path: str, *, websocket: bool = False) -> bool:
        """Whether a call of *method* on *path* (query included or not) is one this fault is about."""
        if self.method == "WS" and not websocket:
            return False
        if self.method not in (None, "WS") and self.method != method.upper():
            return False
        return fnmatch.fnmatchcase(path.split("?", 1)[0], self.path)


@dataclass(slots=True)
class Counter:
    """How many matching calls (or messages) one fault has seen and fired on."""

    seen: int = 0
    fired: int = 0

    def fires(self, fault: Fault) -> bool:
        """Count one more matching call; whether the fault fires on it (``after``, then ``rate``, then ``times``).

        The rate is spread evenly and without chance: with ``rate = 0.3`` the 4th, 7th and 10th of
        every ten calls after ``after`` fire, so every run of the same calls fires the same way.
        """
        self.seen += 1
        eligible = self.seen - fault.after
        if eligible <= 0 or (fault.times is not None and self.fired >= fault.times):
            return False
        if math.floor(eligible * fault.rate + 1e-9) <= math.floor((eligible - 1) * fault.rate + 1e-9):
            return False
        self.fired += 1
        return True


def load_rules(path: Path) -> tuple[Fault, ...]:
    """Read and validate the rules file at *path*; RulesError (one line) when it cannot be used."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(f"{path}: cannot read it ({exc.strerror or exc}); check the path") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML ({exc})") from None
    return parse_rules(data, str(path))


def parse_rules(data: Mapping[str, Any], where: str = "the rules") -> tuple[Fault, ...]:
    """Validate the ``[[fault]]`` tables of *data* (a parsed rules file)."""
    unknown = sorted(set(data) - {"fault"})
    if unknown:
        raise RulesError(
            f"{where}: unknown top-level key(s) {', '.join(unknown)}; write each fault as a [[fault]] table"
        )
    tables = data.get("fault", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise RulesError(f"{where}: 'fault' must be an array of tables: write each one as [[fault]]")
    faults = [_parse_fault(table, f"{where}: fault {index + 1}") for index, table in enumerate(tables)]
    names = [fault.name for fault in faults]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise RulesError(f"{where}: fault name(s) used twice: {', '.join(repeated)}; give each fault its own name")
    return tuple(faults)


def _parse_fault(table: Mapping[str, Any], where: str) -> Fault:
    kind = table.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise RulesError(f"{where}: kind is {kind!r}; expected one of {', '.join(KINDS)}")
    extra = sorted(set(table) - _COMMON - _KEYS[kind])
    if extra:
        allowed = ", ".join(sorted(_KEYS[kind])) or "none"
        raise RulesError(f"{where}: unknown key(s) {', '.join(extra)} for kind {kind!r} (its own keys: {allowed})")
    match = table.get("match")
    if not isinstance(match, str) or not match.strip():
        raise RulesError(f"{where}: match must be a string like 'GET /health', '/api/*' or 'WS /stream'")
    method, path = _split_match(match, where)
    if kind in WEBSOCKET_KINDS and method not in (None, "WS", "GET"):
        raise RulesError(f"{where}: kind {kind!r} acts on WebSockets; match them as 'WS {path}'")
    name = table.get("name", f"{kind} {match.strip()}")
    values: dict[str, Any] = {
        "name": _typed(where, "name", name, str, "a string"),
        "kind": kind,
        "method": "WS" if kind in WEBSOCKET_KINDS else method,
        "path": path,
        "rate": _number(where, "rate", table.get("rate", 1.0), low=0.0, high=1.0, low_open=True),
        "after": _whole(where, "after", table.get("after", 0), low=0),
    }
    if "times" in table:
        values["times"] = _whole(where, "times", table["times"], low=1)
    if kind == "status":
        status = _whole(where, "status", table.get("status", 503), low=100)
        if status > 599:
            raise RulesError(f"{where}: status is {status}; expected an HTTP status from 100 to 599")
        values["status"] = status
        values["body"] = _typed(
            where, "body", table.get("body", f"<html><body><h1>{status}</h1></body></html>"), str, "a string"
        )
        values["content_type"] = _typed(
            where, "content_type", table.get("content_type", DEFAULT_CONTENT_TYPE), str, "a string"
        )
    if kind in ("delay", "ws_delay"):
        if "seconds" not in table:
            raise RulesError(f"{where}: kind {kind!r} needs seconds (how long to hold each one)")
        values["seconds"] = _number(where, "seconds", table["seconds"], low=0.0, low_open=True)
    if kind in ("json", "headers"):
        sets = table.get("set", {})
        if not isinstance(sets, dict):
            raise RulesError(
                f"{where}: set must be a table of {'dotted paths' if kind == 'json' else 'header names'} to values"
            )
        removes = table.get("remove", [])
        if not isinstance(removes, list) or not all(isinstance(r, str) and r for r in removes):
            raise RulesError(
                f"{where}: remove must be a list of {'dotted paths' if kind == 'json' else 'header names'}"
            )
        if not sets and not removes:
            raise RulesError(f"{where}: kind {kind!r} changes nothing: give it set, remove or both")
        if kind == "headers" and not all(isinstance(v, str) for v in sets.values()):
            raise RulesError(f"{where}: set must give each header a string value")
        values["set"], values["remove"] = dict(sets), tuple(removes)
    if kind == "ws_close":
        code = _whole(where, "code", table.get("code", 1011), low=1000)
        if code > 4999 or code in (1004, 1005, 1006, 1015):
            raise RulesError(
                f"{where}: code is {code}; expected a close code that may be sent (1000-4999, not 1004-1006 or 1015)"
            )
        values["code"] = code
        values["reason"] = _typed(where, "reason", table.get("reason", ""), str, "a string")
    return Fault(**values)


def _split_match(match: str, where: str) -> tuple[str | None, str]:
    parts = match.split()
    if len(parts) == 1:
        method, path = None, parts[0]
    elif len(parts) == 2:
        method, path = parts[0].upper(), parts[1]
        if method not in _METHODS:
            raise RulesError(
                f"{where}: match {match!r} names method {parts[0]!r}; expected one of {', '.join(sorted(_METHODS))}"
            )
    else:
        raise RulesError(f"{where}: match {match!r} has {len(parts)} words; write 'METHOD /path' or '/path'")
    if not path.startswith(("/", "*")):
        raise RulesError(f"{where}: match {match!r}: the path must start with '/' (a glob like '/api/*' is fine)")
    return (None if method == "*" else method), path


def _typed(where: str, key: str, value: Any, kind: type, shown: str) -> Any:
    if not isinstance(value, kind):
        raise RulesError(f"{where}: {key} is {value!r}; expected {shown}")
    return value


def _whole(where: str, key: str, value: Any, *, low: int) -> int:
    if type(value) is not int or value < low:
        raise RulesError(f"{where}: {key} is {value!r}; expected a whole number >= {low}")
    return value


def _number(
    where: str, key: str, value: Any, *, low: float, high: float | None = None, low_open: bool = False
) -> float:
    ok = type(value) in (int, float) and (value > low if low_open else value >= low) and (high is None or value <= high)
    if not ok:
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        upper = f" and <= {high:g}" if high is not None else ""
        raise RulesError(f"{where}: {key} is {value!r}; expected a number {bound}{upper}")
    return float(value)


def edit_json(body: bytes, fault: Fault) -> tuple[bytes, str]:
    """The JSON *body* with the fault's ``set`` and ``remove`` applied, and what changed (``status='degraded'``).

    Raises RulesError when the body is not JSON or a path is not in it: the fault did not fire.
    """
    try:
        document = json.loads(body)
    except ValueError:
        raise RulesError(f"{fault.name}: the answer is not JSON ({body[:60]!r}); nothing changed") from None
    changed = []
    for path, value in fault.set.items():
        parent, last = _walk(document, path, fault)
        _put(parent, last, value, path, fault, create=True)
        changed.append(f"{path}={value!r}")
    for path in fault.remove:
        parent, last = _walk(document, path, fault)
        _put(parent, last, None, path, fault, create=False)
        changed.append(f"{path} removed")
    return json.dumps(document).encode(), ", ".join(changed)


def _walk(document: Any, path: str, fault: Fault) -> tuple[Any, str]:
    *steps, last = path.split(".")
    node = document
    for step in steps:
        node = _step(node, step, path, fault)
    return node, last


def _step(node: Any, step: str, path: str, fault: Fault) -> Any:
    if isinstance(node, dict) and step in node:
        return node[step]
    if isinstance(node, list) and step.isdigit() and int(step) < len(node):
        return node[int(step)]
    raise RulesError(f"{fault.name}: the answer has no {path!r} (stopped at {step!r}); nothing changed")


def _put(parent: Any, last: str, value: Any, path: str, fault: Fault, *, create: bool) -> None:
    if isinstance(parent, dict) and (create or last in parent):
        if create:
            parent[last] = value
        else:
            del parent[last]
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        if create:
            parent[int(last)] = value
        else:
            del parent[int(last)]
    else:
        raise RulesError(f"{fault.name}: the answer has no {path!r}; nothing changed")


def cut(body: bytes) -> bytes:
    """The first half of *body* (at least one byte shorter, empty when it was)."""
    return body[: len(body) // 2]


def describe(faults: Sequence[Fault]) -> list[str]:
    """One line per fault, as the proxy prints them when it loads a rules file."""
    lines = []
    for fault in faults:
        limits = [f"rate {fault.rate:g}" if fault.rate < 1 else "", f"after {fault.after}" if fault.after else ""]
        limits.append(f"at most {fault.times}x" if fault.times else "")
        shown = ", ".join(limit for limit in limits if limit)
        lines.append(
            f"{fault.name}: {fault.kind} on {fault.method or 'any'} {fault.path}" + (f" ({shown})" if shown else "")
        )
    return lines
