"""The deployed version, read from an answer where the target publishes it (``version_from``).

Pure: no pytest, and httpx only for type checking (the callers hold the client).  Where the
version is published (``VersionSource``, parsed from ``version_from``) is
``pytest_deploysmoke.config.version_source``.  The built-in
``deploysmoke::version`` check (``run/version_check.py``), the readiness wait for a new version
(``run/launch.py``) and the HTTP clients, which note the version any check happens to read,
all read it through :func:`read_answer`, so they agree on what the service said.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from pytest_deploysmoke.clients.json_path import dig
from pytest_deploysmoke.config.version_source import VersionSource

if TYPE_CHECKING:
    import httpx

#: How much of a body a message quotes.
EXCERPT_CHARS: Final = 120


@dataclass(frozen=True, slots=True)
class VersionReading:
    """What one answer said: the version, or ("") what came back instead."""

    version: str
    #: When there is no version: ``200 without header X-App-Version``, ``404: Not Found``.
    instead: str = ""


def read_answer(source: VersionSource, response: httpx.Response) -> VersionReading:
    """The version *response* (the answer to ``source.request``) carries."""
    return read(source, response.status_code, response.headers, response.text)


def read(source: VersionSource, status: int, headers: Mapping[str, str], text: str) -> VersionReading:
    """The version an answer with *status*, *headers* and body *text* carries, read as *source* says."""
    if source.kind == "header":
        wanted = source.selector.lower()
        value = next((value for name, value in headers.items() if name.lower() == wanted), "").strip()
        if value:
            return VersionReading(value)
        return VersionReading("", f"{status} without header {source.selector}{_header_names(headers)}")
    if source.kind == "regex":
        match = re.search(source.selector, text)
        if match is not None and match.group(1):
            return VersionReading(match.group(1).strip())
        return VersionReading("", f"{status} with no match in its body: {_excerpt(text)}")
    try:
        document = json.loads(text)
    except ValueError:
        return VersionReading("", f"{status} with a body that is not JSON: {_excerpt(text)}")
    value = _follow(document, source.selector)
    if isinstance(value, str) and value.strip():
        return VersionReading(value.strip())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return VersionReading(str(value))
    if value is None:
        return VersionReading("", f"{status} with no {source.selector} in its JSON: {_excerpt(text)}")
    return VersionReading("", f"{status} with {source.selector} = {_excerpt(json.dumps(value))}, not a version")


def _follow(document: Any, selector: str) -> Any:
    """``$.build.version``, ``$.items.0.v`` into parsed JSON; None when absent."""
    return document if selector == "$" else dig(document, selector.removeprefix("$."))


def _header_names(headers: Mapping[str, str]) -> str:
    names = sorted({name.lower() for name in headers})
    return f" (headers: {', '.join(names)})" if names else ""


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    if not flat:
        return "(empty body)"
    return flat if len(flat) <= EXCERPT_CHARS else flat[:EXCERPT_CHARS] + " ..."


@dataclass(frozen=True, slots=True)
class VersionWait:
    """What the readiness wait also waits for (``wait_for_version``): *expected* answering at *url*."""

    expected: str
    source: VersionSource
    url: str  # the base URL joined with ``source.path``

    def gave_up(self, within: float, tally: VersionTally) -> str:
        """``waited 30 s for version 2.4.0 from header X-App-Version of GET /health; 14 answers, ...``."""
        return (
            f"waited {within:g} s for version {self.expected} from {self.source.describe()}; {tally.describe()}; "
            "check that the release reaches every instance, or correct version"
        )


@dataclass(slots=True)
class VersionTally:
    """The versions the answers carried while waiting for one: how many, and the last."""

    seen: Counter[str] = field(default_factory=Counter)
    last: VersionReading | None = None

    def add(self, reading: VersionReading) -> None:
        """Count one more answer."""
        self.seen[reading.version] += 1
        self.last = reading

    @property
    def answers(self) -> int:
        """How many answers were read."""
        return sum(self.seen.values())

    def describe(self) -> str:
        """``14 answers, last saw 2.3.9 (14 of 14)``; ``no version`` and what came back when there was none."""
        last = self.last
        if last is None:
            return "no answer carried a version"
        total = self.answers
        of = f"({self.seen[last.version]} of {total})"
        saw = f"{last.version} {of}" if last.version else f"no version {of}: {last.instead}"
        return f"{total} answer{'s' if total != 1 else ''}, last saw {saw}"
