"""Passwords (PBKDF2 from the standard library) and HS256 access tokens (PyJWT)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt

ITERATIONS = 100_000
TOKEN_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in user a request acts for, as read from its bearer token."""

    id: int
    email: str


def hash_password(password: str) -> str:
    """A salted PBKDF2-SHA256 hash, stored as ``pbkdf2_sha256$iterations$salt$digest``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    return f"pbkdf2_sha256${ITERATIONS}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether *password* matches a hash made by :func:`hash_password`."""
    algorithm, _, rest = stored.partition("$")
    iterations, _, rest = rest.partition("$")
    salt, _, digest = rest.partition("$")
    if algorithm != "pbkdf2_sha256" or not iterations.isdigit():
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(candidate.hex(), digest)


def issue_token(caller: Caller, secret: str) -> str:
    """An HS256 access token for *caller*, valid for an hour."""
    now = datetime.now(timezone.utc)
    claims = {"sub": str(caller.id), "email": caller.email, "iat": now, "exp": now + TOKEN_LIFETIME}
    return jwt.encode(claims, secret, algorithm="HS256")


def read_token(token: str, secret: str) -> Caller | None:
    """The caller of a valid, unexpired token; None for anything else."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
        return Caller(id=int(claims["sub"]), email=str(claims.get("email", "")))
    except (jwt.InvalidTokenError, ValueError):
        return None
