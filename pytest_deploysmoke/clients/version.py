"""The deployed version: where a target publishes it (``version_from``), and reading it from an answer.

Pure: no pytest, and httpx only for type checking (the callers hold the client).  The built-in
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
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    import httpx

#: The node id of the built-in check that reads the version (and compares it with ``version``).
VERSION_NODEID: Final = "deploysmoke::version"
#: The forms ``version_from`` takes, for messages.
FORMS: Final = (
    '"json:PATH:$.dotted.path", "header:NAME", "header:PATH:NAME", "openapi", "openapi:PATH" or "regex:PATH:PATTERN"'
)
OPENAPI_PATH: Final = "/openapi.json"
#: How much of a body a message quotes.
EXCERPT_CHARS: Final = 120

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_JSON_PATH = re.compile(r"\$(?:\.[^.\s]+)*")

Kind = Literal["json", "header", "openapi", "regex"]


@dataclass(frozen=True, slots=True)
class VersionSource:
    """Where the target publishes its version: one GET, and what to read in its answer."""

    kind: Kind
    path: str  # the path GET is sent to, with its query
    #: ``$.build.version`` (json), the header's name (header), the regex's pattern (regex);
    #: ``$.info.version`` for openapi.
    selector: str

    @classmethod
    def default(cls, health_path: str) -> VersionSource:
        """Today's source: the ``version`` field of the health answer's JSON."""
        return cls("json", health_path, "$.version")

    @property
    def request(self) -> str:
        """``GET /health``."""
        return f"GET {self.path}"

    def describe(self) -> str:
        """``header X-App-Version of GET /health``: where the version is read, as every report names it."""
        if self.kind == "header":
            return f"header {self.selector} of {self.request}"
        if self.kind == "openapi":
            return f"info.version of {self.request}"
        if self.kind == "regex":
            return f"regex '{self.selector}' over the body of {self.request}"
        return f"JSON {self.selector} of {self.request}"


class VersionSourceError(ValueError):
    """``version_from`` is malformed: what is wrong with it, and what is expected."""

    def __init__(self, problem: str, expected: str) -> None:
        super().__init__(f"{problem}; {expected}")
        self.problem = problem
        self.expected = expected


def parse_source(text: str, health_path: str) -> VersionSource:
    """``version_from`` as a VersionSource; the health path is where the short forms read.

    Raises:
        VersionSourceError: *text* is none of the forms, a path does not start with ``/``,
            a regex does not compile or has no group.
    """
    kind, _, rest = text.partition(":")
    if kind == "json":
        if rest.startswith("$"):
            path, selector = health_path, rest
        else:
            path, sep, tail = rest.partition(":$")
            selector = "$" + tail if sep else ""
            _check_path(text, path)
        if not _JSON_PATH.fullmatch(selector):
            raise VersionSourceError(
                f"is '{text}': '{selector or rest}' is not a JSON path", 'expected "json:PATH:$.dotted.path"'
            )
        return VersionSource("json", path, selector)
    if kind == "header":
        path, _, name = rest.rpartition(":") if rest.startswith("/") else ("", "", rest)
        if path:
            _check_path(text, path)
        if not _HEADER_NAME.fullmatch(name):
            raise VersionSourceError(
                f"is '{text}': '{name}' is not a header name", 'expected "header:NAME" or "header:PATH:NAME"'
            )
        return VersionSource("header", path or health_path, name)
    if kind == "openapi":
        path = rest if text != "openapi" else OPENAPI_PATH
        _check_path(text, path)
        return VersionSource("openapi", path, "$.info.version")
    if kind == "regex":
        path, sep, pattern = rest.partition(":")
        _check_path(text, path)
        if not sep or not pattern:
            raise VersionSourceError(f"is '{text}', which has no pattern", 'expected "regex:PATH:PATTERN"')
        try:
            groups = re.compile(pattern).groups
        except re.error as exc:
            raise VersionSourceError(f"regex '{pattern}' does not compile ({exc})", "fix the pattern") from None
        if groups < 1:
            raise VersionSourceError(
                f"regex '{pattern}' has no group",
                r"put the version in parentheses, e.g. 'version (\d+\.\d+\.\d+)'",
            )
        return VersionSource("regex", path, pattern)
    raise VersionSourceError(f"is '{text}'", f"expected {FORMS}")


def mismatch(expected: str, reported: str, source: str) -> str:
    """``version 2.3.9 answered, expected 2.4.0 (header X-App-Version of GET /health)``."""
    where = f" ({source})" if source else ""
    return f"version {reported} answered, expected {expected}{where}"


def _check_path(text: str, path: str) -> None:
    if not path.startswith("/"):
        raise VersionSourceError(
            f"is '{text}': its path '{path}' does not start with '/'", "expected a path such as /health"
        )


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
    current = document
    for part in selector.split(".")[1:]:
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


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
