"""What a production response must not show: stack traces, settings dumps, debug pages and secrets.

Each function names what it found, never the text itself: a finding is printed in a check's
failure line, and the secret it found must not travel further than the response it came in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

STACK_TRACE = re.compile(
    r"Traceback \(most recent call last\)"  # Python
    r'|^\s*File "[^"\n]+", line \d+'  # Python frames without the header
    r"|^\s+at [\w$.<>]+\([\w$]+\.(?:java|kt|scala):\d+\)"  # JVM
    r"|^\s+at .+ \(.+\.[cm]?[jt]s:\d+:\d+\)",  # Node
    re.MULTILINE,
)
#: ``NAME = value`` or ``NAME: value`` at the start of a line: one line of a settings dump.
SETTING = re.compile(r"^\s*([A-Z][A-Z0-9_]{2,})\s*[=:]\s*\S", re.MULTILINE)
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE|KEY|DATABASE_URL|DSN")
#: A line that is only a path, as in a debug 404 page's list of the routes it tried.
ROUTE_LINE = re.compile(r"^\s*/[\w{}:./-]*\s*$", re.MULTILINE)
DEBUG_NOTICE = re.compile(r"\bDEBUG\s*[=:]\s*True\b")

SECRETS = (
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a URL with a password", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@'\"]+:[^\s/@'\"]+@")),
    ("a connection string with a password", re.compile(r"(?:^|[\s;'\"])[Pp](?:assword|wd)=[^\s'\";&]")),
    ("a JWT", re.compile(r"\beyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]+")),
    ("a bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{12,}", re.IGNORECASE)),
)
#: ``SECRET_KEY = ...``, ``"API_TOKEN": "..."``: a named secret with a value; the name is reported.
SECRET_SETTING = re.compile(
    r"\b([A-Z0-9_]*(?:SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|ACCESS_KEY|PRIVATE_KEY)[A-Z0-9_]*)"
    r"[\"']?\s*[=:]\s*[\"']?[^\s\"',}]"
)
#: ``"password": "..."``, ``"api_token": "..."``: a secret field of a JSON (or similar) body, with a value;
#: a token must be 12 characters or more, so that ``"token_type": "bearer"`` is not one.
SECRET_FIELDS = (
    re.compile(r"[\"']([\w-]*passw(?:or)?d[\w-]*)[\"']\s*[:=]\s*[\"'][^\"']+[\"']", re.IGNORECASE),
    re.compile(
        r"[\"']([\w-]*(?:secret|token|api[_-]?key|access[_-]?key|private[_-]?key)[\w-]*)[\"']\s*[:=]\s*[\"'][^\"'\s]{12,}[\"']",
        re.IGNORECASE,
    ),
)
#: Headers that name the software behind the service; with a version number they tell an attacker what to try.
SOFTWARE_HEADERS = ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version")
VERSION = re.compile(r"\d+\.\d+")


def stack_trace(text: str) -> bool:
    """Whether *text* holds a stack trace (Python, JVM or Node)."""
    return STACK_TRACE.search(text) is not None


def settings_dump(text: str) -> list[str]:
    """The setting names of a settings dump in *text* (two or more ``NAME = value`` lines), else ``[]``."""
    names = sorted(set(SETTING.findall(text)))
    return names if len(names) >= 2 else []


def masked(name: str) -> str:
    """*name*, with ``=***`` when it names a secret, so a message shows that it leaked but not what."""
    return f"{name}=***" if SECRET_NAME.search(name) else name


def debug_markers(text: str) -> list[str]:
    """What in an error body shows the service's internals, as phrases for a failure line; ``[]`` when nothing."""
    found = []
    if stack_trace(text):
        found.append("a stack trace")
    if names := settings_dump(text):
        secret = [masked(name) for name in names if SECRET_NAME.search(name)]
        including = f", including {', '.join(secret)}" if secret else ""
        found.append(f"a settings dump ({len(names)} settings{including})")
    elif DEBUG_NOTICE.search(text):
        found.append("a DEBUG = True notice")
    if (routes := len(ROUTE_LINE.findall(text))) >= 3:
        found.append(f"a list of {routes} routes")
    return found


def secrets_in(text: str) -> list[str]:
    """The kinds of secret in *text*, such as ``a URL with a password`` or ``a secret setting (SECRET_KEY=***)``."""
    found = [label for label, pattern in SECRETS if pattern.search(text)]
    if names := sorted(set(SECRET_SETTING.findall(text))):
        found.append(f"a secret setting ({', '.join(f'{name}=***' for name in names)})")
    fields = {name for pattern in SECRET_FIELDS for name in pattern.findall(text)} - set(names)
    if fields := sorted(fields):
        found.append(f"a secret field ({', '.join(f'{name}=***' for name in fields)})")
    return found


def secrets_in_headers(headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> list[str]:
    """The secrets and version-revealing software names in response headers, each with the header's name."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    found = []
    for name, value in items:
        lowered = name.lower()
        if lowered == "set-cookie":
            continue  # a session cookie is a secret meant for this client; handing it over is no leak
        found.extend(f"{kind} in the {name} header" for kind in secrets_in(f"{name}: {value}"))
        if lowered in SOFTWARE_HEADERS and VERSION.search(value):
            found.append(f"a software version in the {name} header")
    return found
