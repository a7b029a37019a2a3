"""Passwords (PBKDF2 from the standard library) and HS256 access tokens (PyJWT)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt

ITERATIONS = 100_000
#: The lifetime of an access token, and the longest a login may ask for with ``expires_in``.
TOKEN_LIFETIME = timedelta(hours=1)
#: The shortest lifetime a login may ask for: clients test their expiry handling with it.
MIN_TOKEN_LIFETIME = timedelta(seconds=1)
ISSUER = "jwtapi"


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


def issue_token(caller: Caller, secret: str, lifetime: timedelta = TOKEN_LIFETIME) -> str:
    """An HS256 access token for *caller*, valid for *lifetime*."""
    now = datetime.now(timezone.utc)
    claims = {"iss": ISSUER, "sub": str(caller.id), "email": caller.email, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm="HS256")


def read_token(token: str, secret: str, *, verify_exp: bool = True) -> Caller | None:
    """The caller of a valid, unexpired token; None for anything else.

    ``verify_exp=False`` exists only for the ``expired_token_accepted`` fault switch.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],  # never "none", and never what the token's header asks for
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"], "verify_exp": verify_exp},
        )
        return Caller(id=int(claims["sub"]), email=str(claims.get("email", "")))
    except (jwt.InvalidTokenError, ValueError):
        return None
