"""A mitmproxy addon that injects the faults of a rules file into the calls it passes on.

Run by ``mitmdump -s addon.py`` (``python -m pytest_deploysmoke.faults`` builds that command) in
mitmproxy's own Python, where the plugin may not be installed: it imports the rules module next
to it and mitmproxy, nothing of the plugin.  Options:

``deploysmoke_faults``
    The rules file (``[[fault]]`` tables, see rules.py).  It is read again whenever it changes,
    so one proxy serves a series of rehearsals; the counters start again with each new file.
``deploysmoke_faults_log``
    A file that gets one JSON line per fault fired (``at``, ``fault``, ``kind``, ``call``,
    ``detail``) and one per rules file loaded or refused (``loaded`` or ``error``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

try:  # inside the plugin (tests, mypy)
    from . import rules
except ImportError:  # loaded by mitmproxy as a script: its folder is on sys.path while it loads
    import rules  # type: ignore[no-redef,import-not-found]

log = logging.getLogger("deploysmoke.faults")

#: A message whose content starts with this is turned into a close frame (see _teach_close).
CLOSE_MARK = b"\x00deploysmoke-close\x00"


class FaultInjector:
    """Reads the rules, counts matching calls, and changes the ones a fault fires on."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.log_path: Path | None = None
        self.stamp: tuple[int, int, int] | None = None
        self.faults: tuple[rules.Fault, ...] = ()
        self.counters: dict[str, rules.Counter] = {}
        self.streams: dict[str, dict[str, rules.Counter]] = {}  # flow id -> fault name -> its messages
        self.closed: set[str] = set()  # WebSocket flows a ws_close fault closed
        self.can_close = False  # whether this mitmproxy was taught to send a close code (_teach_close)

    # mitmproxy hooks ----------------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        loader.add_option("deploysmoke_faults", str, "", "The fault rules file ([[fault]] tables in TOML).")
        loader.add_option("deploysmoke_faults_log", str, "", "Append one JSON line per fault fired to this file.")
        self.can_close = _teach_close()

    def configure(self, updated: set[str]) -> None:
        from mitmproxy import ctx

        if "deploysmoke_faults_log" in updated:
            self.log_path = Path(ctx.options.deploysmoke_faults_log) if ctx.options.deploysmoke_faults_log else None
        if "deploysmoke_faults" in updated:
            self.path = Path(ctx.options.deploysmoke_faults) if ctx.options.deploysmoke_faults else None
            self.stamp = None
            self._current()

    async def request(self, flow: Any) -> None:
        websocket = flow.request.headers.get("upgrade", "").lower() == "websocket"
        for fault in self._matching(flow, websocket=websocket, kinds=rules.REQUEST_KINDS):
            if fault.kind == "delay":
                self._fired(fault, flow, f"held {fault.seconds:g} s")
                await asyncio.sleep(fault.seconds)
            elif fault.kind == "reset":
                self._fired(fault, flow, "connection dropped without an answer")
                flow.kill()
                return
            else:
                from mitmproxy import http

                self._fired(fault, flow, f"answered {fault.status} in the service's place")
                flow.response = http.Response.make(fault.status, fault.body, {"content-type": fault.content_type})
                flow.metadata["deploysmoke_fault"] = fault.name
                return

    def response(self, flow: Any) -> None:
        if "deploysmoke_fault" in flow.metadata or flow.response is None:
            return  # a status fault's own answer
        websocket = flow.response.status_code == 101
        for fault in self._matching(flow, websocket=websocket, kinds=rules.RESPONSE_KINDS):
            answer = flow.response
            if fault.kind == "truncate":
                whole = answer.raw_content or b""
                answer.raw_content = rules.cut(whole)  # mitmproxy sets Content-Length to the cut length ...
                answer.headers["content-length"] = str(len(whole))  # ... so say the whole length again
                answer.headers["connection"] = "close"  # and close once the cut body is sent
                self._fired(fault, flow, f"sent {len(answer.raw_content)} of {len(whole)} bytes, then closed")
            elif fault.kind == "invalid_json":
                whole = answer.content or b""
                answer.content = rules.cut(whole)
                self._fired(
                    fault, flow, f"sent the first {len(answer.content)} of {len(whole)} bytes as the whole body"
                )
            elif fault.kind == "json":
                try:
                    answer.content, changed = rules.edit_json(answer.content or b"", fault)
                except rules.RulesError as exc:
                    self._write({"event": "not fired", "fault": fault.name, "call": _call(flow), "detail": str(exc)})
                    continue
                self._fired(fault, flow, changed)
            else:  # headers
                for name in fault.remove:
                    answer.headers.pop(name, None)
                for name, value in fault.set.items():
                    answer.headers[name] = value
                shown = [f"{name} removed" for name in fault.remove] + [
                    f"{name}: {value}" for name, value in fault.set.items()
                ]
                self._fired(fault, flow, ", ".join(shown))

    async def websocket_message(self, flow: Any) -> None:
        message = flow.websocket.messages[-1]
        if message.from_client:
            return
        if flow.id in self.closed:
            message.drop()  # a close frame went out in its place: nothing follows it
            return
        counters = self.streams.setdefault(flow.id, {})
        for fault in self._current():
            if not fault.websocket or not fault.matches("GET", flow.request.path, websocket=True):
                continue
            counter = counters.setdefault(fault.name, rules.Counter())
            if not counter.fires(fault):
                continue
            if fault.kind == "ws_delay":
                self._fired(fault, flow, f"held message {counter.seen} for {fault.seconds:g} s")
                await asyncio.sleep(fault.seconds)
            elif fault.kind == "ws_silence":
                if counter.fired == 1:
                    self._fired(fault, flow, f"dropped the service's messages from message {counter.seen} on")
                message.drop()
                return
            elif self.can_close:  # ws_close
                self._fired(fault, flow, f"closed with code {fault.code} instead of message {counter.seen}")
                message.content = CLOSE_MARK + f"{fault.code}\x00{fault.reason}".encode()
                self.closed.add(flow.id)
                return
            else:
                detail = f"dropped the connection instead of message {counter.seen} (no close code: see the log)"
                self._fired(fault, flow, detail)
                flow.kill()
                return

    def websocket_end(self, flow: Any) -> None:
        self.streams.pop(flow.id, None)
        self.closed.discard(flow.id)

    # the rules ----------------------------------------------------------------------------------

    def _matching(self, flow: Any, *, websocket: bool, kinds: frozenset[str]) -> Iterator[rules.Fault]:
        """The faults of *kinds* that fire on this call, counting it for each fault that matches it."""
        for fault in self._current():
            if fault.kind in kinds and fault.matches(flow.request.method, flow.request.path, websocket=websocket):
                if self.counters.setdefault(fault.name, rules.Counter()).fires(fault):
                    yield fault

    def _current(self) -> tuple[rules.Fault, ...]:
        """The faults of the rules file, read again when it has changed (a refused file: no faults)."""
        if self.path is None:
            return ()
        try:
            info = os.stat(self.path)
            stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        except OSError:
            stamp = (0, 0, 0)
        if stamp == self.stamp:
            return self.faults
        self.stamp, self.counters = stamp, {}
        try:
            self.faults = rules.load_rules(self.path)
        except rules.RulesError as exc:
            self.faults = ()
            log.error("deploysmoke faults: %s; no fault is injected until the file is fixed", exc)
            self._write({"event": "error", "detail": str(exc)})
        else:
            for line in rules.describe(self.faults) or ["no faults: every call passes untouched"]:
                log.info("deploysmoke faults: %s", line)
            self._write({"event": "loaded", "faults": [fault.name for fault in self.faults]})
        return self.faults

    def _fired(self, fault: rules.Fault, flow: Any, detail: str) -> None:
        self._write({"event": "fired", "fault": fault.name, "kind": fault.kind, "call": _call(flow), "detail": detail})

    def _write(self, entry: dict[str, Any]) -> None:
        entry = {"at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **entry}
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")


def _call(flow: Any) -> str:
    """``GET /health``, ``WS /stream``: the call as the plugin's reports name it, without its query.

    A query can carry a token (``?access_token=...``); the log has no business keeping it.
    """
    websocket = flow.websocket is not None or flow.request.headers.get("upgrade", "").lower() == "websocket"
    path, query = flow.request.path.partition("?")[::2]
    return f"{'WS' if websocket else flow.request.method} {path}" + ("?..." if query else "")


def _teach_close() -> bool:
    """Let a marked message leave the proxy as a close frame with a code (mitmproxy has no API for it).

    mitmproxy cuts each message into frames with its Fragmentizer, and sends whatever events that
    yields; a marked message yields a CloseConnection instead.  The client answers the close, and
    mitmproxy passes that on to the service and ends both connections, as on any close.
    Returns False, and ws_close drops the connection instead, on a mitmproxy without that class.
    """
    from mitmproxy.proxy.layers import websocket as layer
    from wsproto.events import CloseConnection

    fragmentizer = getattr(layer, "Fragmentizer", None)
    if fragmentizer is None:
        log.error("deploysmoke faults: this mitmproxy cannot send a close code; ws_close drops the connection instead")
        return False
    original = fragmentizer.__call__
    if getattr(original, "deploysmoke", False):
        return True

    def fragments(self: Any, content: bytes) -> Iterator[Any]:
        if content.startswith(CLOSE_MARK):
            code, _, reason = content[len(CLOSE_MARK) :].decode().partition("\x00")
            yield CloseConnection(code=int(code), reason=reason)
            return
        yield from original(self, content)

    fragments.deploysmoke = True  # type: ignore[attr-defined]
    fragmentizer.__call__ = fragments
    return True


addons = [FaultInjector()]
