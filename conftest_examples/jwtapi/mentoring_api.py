"""What the smoke suite knows about the mentoring API: the endpoints it calls, and the target's settings."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import pytest

from pytest_deploysmoke import Target

#: Every endpoint the suite calls, as "METHOD /path" with OpenAPI path templates.
#: /openapi.json must document each one (test_api_docs.py); add a line here with every new check.
CHECKED_ENDPOINTS = (
    "GET /health",
    "POST /api/v1/auth/login",
    "GET /api/v1/me",
    "GET /api/v1/mentors",
    "GET /api/v1/mentors/{mentor_id}",
    "GET /api/v1/mentors/search",
)

#: The endpoint that needs a token; the JWT checks call it with none, a fresh, an expired and a tampered one.
PROTECTED_PATH = "/api/v1/me"
#: The main read endpoints, held to the checklist's percentiles (test_performance.py).
READ_ENDPOINTS = ("/api/v1/mentors", "/api/v1/mentors/{mentor_id}", "/api/v1/me")
#: Where CORS preflights are sent: a read endpoint the web app calls.
CORS_PATH = "/api/v1/mentors"
#: Where the security headers and HSTS are checked: the health check, the API and the docs page.
HEADER_PATHS = ("/health", "/api/v1/mentors", "/docs")
#: The rate-limited endpoint (a limit per client, so bursting it leaves the other endpoints alone).
RATE_LIMITED_PATH = "/api/v1/mentors/search"


def setting(target: Target, name: str) -> Any:
    """The target's ``vars.NAME``; a missing one fails the check, naming the key to add."""
    if name not in target.vars:
        pytest.fail(
            f"target '{target.name}' has no vars.{name}; add it to [targets.{target.name}.vars] in deploysmoke.toml "
            "(README.md lists the settings)",
            pytrace=False,
        )
    return target.vars[name]


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for *token*."""
    return {"Authorization": f"Bearer {token}"}


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_payload(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (the suite holds no key); {} when *token* is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(b64url_decode(parts[1]))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}
