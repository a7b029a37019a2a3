"""Where a target publishes its version (``version_from``): the typed source and its parser (no pytest, no httpx).

Reading the version from an answer is ``pytest_deploysmoke.clients.version``; the built-in check
that compares it with ``version`` is ``pytest_deploysmoke.run.version_check``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

#: The node id of the built-in check that reads the version (and compares it with ``version``).
VERSION_NODEID: Final = "deploysmoke::version"
#: The forms ``version_from`` takes, for messages.
FORMS: Final = (
    '"json:PATH:$.dotted.path", "header:NAME", "header:PATH:NAME", "openapi", "openapi:PATH" or "regex:PATH:PATTERN"'
)
OPENAPI_PATH: Final = "/openapi.json"

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
