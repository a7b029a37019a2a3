"""Logging in: obtaining a bearer token from a target, and reading JWT claims without a key."""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke.errors import unchecked

if TYPE_CHECKING:
    from pytest_deploysmoke.clients.http import SmokeClient
    from pytest_deploysmoke.config.model import Target


def login(http: SmokeClient, target: Target) -> str:
    """Return the target's static token, or log in with its ``[auth]`` settings and return the token."""
    from pytest_deploysmoke.clients.http import LOGIN_EXTENSION
    from pytest_deploysmoke.clients.network import excerpt

    auth = target.auth
    if auth is None:
        pytest.skip(f"target '{target.name}' has no [auth] section (login_path, username, password or token)")
    if auth.token:
        return auth.token.reveal()
    if not auth.username or not auth.password:
        pytest.skip(f"target '{target.name}' has no [auth] username and password, and no token")
    body = {auth.username_field: auth.username, auth.password_field: auth.password.reveal()}
    response = http.post(auth.login_path, json=body, extensions={LOGIN_EXTENSION: True})
    what = f"login POST {auth.login_path} as {auth.username}"
    if not response.is_success:
        if response.status_code in (401, 403):
            hint = f"check [targets.{target.name}.auth] username and password"
        elif response.status_code in (404, 405):
            hint = f"check [targets.{target.name}.auth] login_path"
        else:
            hint = "the login endpoint itself failed; the service's logs say why"
        raise unchecked(f"{what} answered {response.status_code}: {excerpt(response.text)}; {hint}")
    try:
        document = response.json()
    except ValueError:
        raise unchecked(
            f"{what} answered {response.status_code} with a body that is not JSON: {excerpt(response.text)}; "
            "check login_path (a login page instead of the API is a common cause)"
        ) from None
    token = dig(document, auth.token_path)
    if not isinstance(token, str) or not token:
        keys = ", ".join(sorted(document)) if isinstance(document, dict) else type(document).__name__
        raise unchecked(
            f"{what} answered {response.status_code} without a token at '{auth.token_path}' "
            f"(top-level keys: {keys}); set token_path to where the token is"
        )
    return token


def dig(document: Any, dotted: str) -> Any:
    """Follow a dotted path (``data.token``, ``items.0.id``) into parsed JSON; None when absent."""
    current = document
    for part in dotted.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def decode_jwt(token: str) -> dict[str, Any] | None:
    """The claims of a JWT, unverified (the runner holds no key); None when *token* is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def expired_message(token: str, now: float | None = None) -> str | None:
    """Why the token cannot be used, when it is a JWT whose ``exp`` has passed."""
    claims = decode_jwt(token)
    if not claims or not isinstance(claims.get("exp"), (int, float)):
        return None
    now = time.time() if now is None else now
    if claims["exp"] > now:
        return None
    ago = now - claims["exp"]
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(claims["exp"]))
    return (
        f"the bearer token is already expired (exp {when} UTC, {ago:.0f} s ago); "
        "check the login endpoint (or the configured token) and the server's clock"
    )
