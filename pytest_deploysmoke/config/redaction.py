"""Secrets and redaction: the one path every line of output goes through."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit

MASK: Final = "***"

#: Variable names whose expanded values are treated as secrets.
SECRET_NAME_PARTS: Final = ("SECRET", "PASSWORD", "TOKEN", "KEY", "CREDENTIAL")

#: Shorter values are not registered: masking every "1" or "ab" would shred the output.
MIN_SECRET_LENGTH: Final = 4

#: Secrets this long are masked wherever FRAGMENT_LENGTH consecutive characters of them appear, not
#: only whole: pytest shortens long values ('eyJhbGciOiJI...7SU0uMPBQbBys'), and each end is a leak.
FRAGMENT_SECRET_LENGTH: Final = 12
FRAGMENT_LENGTH: Final = 8

# Any run of FRAGMENT_LENGTH characters holds a piece of _PIECE characters that starts at a multiple
# of _STEP, so looking up only those pieces of the text finds every fragment.
_PIECE: Final = 4
_STEP: Final = FRAGMENT_LENGTH - _PIECE + 1

# A URL's scheme, host and path are not secret; only its password is matched by fragment.
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*://")

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]*:)(?P<pw>[^\s@/]+)@")
# A header name followed by ':' or '=' (text, dicts) or by "', '" (a repr'd tuple), then its value.
_AUTH_HEADER = re.compile(
    r"(?P<head>\b(?:authorization|proxy-authorization|x-api-key|cookie|set-cookie)"
    r"(?:['\"]?\s*[:=]\s*['\"]?|['\"]\s*,\s*['\"]))"
    r"(?P<value>(?:bearer\s+|basic\s+|token\s+)?[^\s'\",}]+)",
    re.IGNORECASE,
)
_HEADER_NAMES = ("authorization", "x-api-key", "cookie")
# Credentials are long; "the bearer of bad news" and "missing Bearer token" are not credentials.
_BEARER = re.compile(r"(?P<head>\bbearer\s+)(?P<value>[A-Za-z0-9\-._~+/]{12,}=*)", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*")


def is_secret_name(name: str) -> bool:
    """Return whether an environment variable name looks like it holds a secret."""
    upper = name.upper()
    return any(part in upper for part in SECRET_NAME_PARTS)


@dataclass(frozen=True, slots=True)
class Secret:
    """A configuration value that must never be shown; ``str()`` and ``repr()`` give ``***``."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """Return the real value; call this only where the value is sent."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __bool__(self) -> bool:
        return bool(self._value)


def url_password(url: str) -> str | None:
    """Return the password part of a URL, if it has one."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return password or None


def redact_url(url: str) -> str:
    """Return *url* with the password part of its userinfo replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", url)


@dataclass(slots=True)
class Redactor:
    """Masks known secret values and secret-shaped text (URL passwords, bearer tokens, JWTs).

    A secret of FRAGMENT_SECRET_LENGTH or more characters is masked wherever FRAGMENT_LENGTH
    consecutive characters of it appear; a shorter one, or a whole URL, only where it appears whole.
    """

    _secrets: set[str] = field(default_factory=set, repr=False)
    _whole: set[str] = field(default_factory=set, repr=False)
    # Every FRAGMENT_LENGTH-character window of the long secrets, and every _PIECE-character piece
    # of them as a tuple (what zip() of the text's strided slices yields).
    _windows: set[str] = field(default_factory=set, repr=False)
    _pieces: set[tuple[str, ...]] = field(default_factory=set, repr=False)

    def add(self, *values: str | Secret | None) -> None:
        """Register values that must never appear in output."""
        for value in values:
            raw = value.reveal() if isinstance(value, Secret) else value
            if not raw or len(raw) < MIN_SECRET_LENGTH:
                continue
            by_fragment = len(raw) >= FRAGMENT_SECRET_LENGTH and not _URL.match(raw)
            # repr() escapes quotes and backslashes; a secret shown in a repr must match too.
            for variant in {raw, unquote(raw), repr(raw)[1:-1]}:
                if len(variant) < MIN_SECRET_LENGTH:
                    continue
                self._secrets.add(variant)
                if by_fragment and len(variant) >= FRAGMENT_LENGTH:
                    self._windows.update(
                        variant[i : i + FRAGMENT_LENGTH] for i in range(len(variant) - FRAGMENT_LENGTH + 1)
                    )
                    self._pieces.update(tuple(variant[i : i + _PIECE]) for i in range(len(variant) - _PIECE + 1))
                else:
                    self._whole.add(variant)
            password = url_password(raw)
            if password:
                self.add(password)

    def add_all(self, values: Iterable[str | Secret | None]) -> None:
        """Register every value of *values*."""
        self.add(*values)

    @property
    def secret_count(self) -> int:
        """How many distinct secret strings are registered."""
        return len(self._secrets)

    def shows_secret(self, text: str) -> bool:
        """Whether *text* contains a registered secret or a JWT (not merely secret-shaped code such as
        ``"Bearer " + token``): what decides that a page may not be photographed."""
        return (
            any(secret in text for secret in self._whole)
            or bool(self._fragment_spans(text))
            or ("eyJ" in text and _JWT.search(text) is not None)
        )

    def redact(self, text: str) -> str:
        """Return *text* with every registered secret and secret-shaped token masked."""
        if not text:
            return text
        if self._secrets:
            spans = self._fragment_spans(text)
            spans += _whole_spans(text, self._whole)
            if spans:
                text = _mask_spans(text, spans)
        # Each pattern runs only when its tell-tale substring is there: redact() is on the hot path
        # of every recorded call, and most text has none of them.
        if "@" in text and "://" in text:
            text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
        lowered = text.lower()
        if any(name in lowered for name in _HEADER_NAMES):
            text = _AUTH_HEADER.sub(_mask_value, text)
        if "bearer" in lowered:
            text = _BEARER.sub(_mask_value, text)
        if "eyJ" in text:
            text = _JWT.sub(MASK, text)
        return text

    def _fragment_spans(self, text: str) -> list[tuple[int, int]]:
        """Where runs of FRAGMENT_LENGTH characters of a long secret appear in *text*."""
        if not self._pieces:
            return []
        # One C-level pass looks up the text's pieces at multiples of _STEP, so the common case (no
        # hit) stays cheap on the hot path (benchmarks/redaction.py); only a hit costs a search.
        # The _PIECE (4) slices are spelled out: a generator of them doubles the cost on short text.
        # They differ in length at the end of the text; zip drops the pieces cut short.
        sampled = zip(text[0::_STEP], text[1::_STEP], text[2::_STEP], text[3::_STEP], strict=False)
        hits = self._pieces.intersection(sampled)
        spans: list[tuple[int, int]] = []
        for piece in hits:
            needle = "".join(piece)
            at = text.find(needle)
            while at != -1:
                for start in range(max(0, at - FRAGMENT_LENGTH + _PIECE), at + 1):
                    if text[start : start + FRAGMENT_LENGTH] in self._windows:
                        spans.append((start, start + FRAGMENT_LENGTH))
                at = text.find(needle, at + 1)
        return spans


def _whole_spans(text: str, secrets: set[str]) -> list[tuple[int, int]]:
    """Where each of *secrets* appears whole in *text*."""
    spans: list[tuple[int, int]] = []
    for secret in secrets:
        start = text.find(secret)
        while start != -1:
            spans.append((start, start + len(secret)))
            start = text.find(secret, start + 1)
    return spans


def _mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace each span of *text* by one mask, merging overlapping and adjacent spans."""
    merged: list[list[int]] = []
    for start, stop in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    pieces: list[str] = []
    position = 0
    for start, stop in merged:
        pieces += [text[position:start], MASK]
        position = stop
    pieces.append(text[position:])
    return "".join(pieces)


def _mask_value(match: re.Match[str]) -> str:
    value = match["value"]
    if value == MASK or value.endswith(MASK):
        return match.group(0)
    scheme = value.split()[0] + " " if " " in value else ""
    return f"{match['head']}{scheme}{MASK}"
