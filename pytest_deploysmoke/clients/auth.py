"""The run's login: logging in once, renewing what expires, and reading JWT claims without a key."""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke.errors import unchecked

if TYPE_CHECKING:
    import httpx

    from pytest_deploysmoke.clients.http import SmokeClient
    from pytest_deploysmoke.clients.login import Credentials, LoginFlow
    from pytest_deploysmoke.config.model import AuthSettings, Target
    from pytest_deploysmoke.config.redaction import Redactor

#: What ``auth_token`` says for the ways of logging in that give no token.
NO_TOKEN = {
    "session": 'logs in with a session cookie (session = "cookie")',
    "basic": 'sends HTTP Basic credentials (scheme = "basic")',
}


class AuthSession:
    """The run's login (the ``_auth_session`` fixture): it logs in when first asked, keeps the credentials,
    and logs in again when they are about to expire.

    A login that failed is remembered: every check that needs it fails with the same line, and the
    login is not sent again.  Every value it obtains joins the run's secrets before anything shows it.
    """

    def __init__(self, config: pytest.Config, target: Target, redactor: Redactor) -> None:
        self._config = config
        self._target = target
        self._redactor = redactor
        self._credentials: Credentials | None = None
        self._failure: str | None = None
        # The login's own client: the cookies a login sets must not log the ``http`` client in.
        self._client: SmokeClient | None = None

    def credentials(self) -> Credentials:
        """The credentials to send now: logs in on first use, and again when they are due for renewal."""
        credentials = self._credentials
        if credentials is not None and not credentials.due():
            return credentials
        flow = self._login()
        try:
            request = next(flow)
            while True:
                request = flow.send(self._login_client().send(request))
        except StopIteration as stop:
            result: Credentials = stop.value
            return result

    def renewing(self) -> LoginFlow:
        """The credentials to send now, as a login flow for a client to drive: it sends nothing unless they
        are due, so a renewal goes through (and is recorded by) the client whose request needed it."""
        credentials = self._credentials
        if credentials is not None and not credentials.due():
            return credentials
        return (yield from self._login())

    def token(self) -> str:
        """The bearer token (or API key) of the login; skips for the ways of logging in that have none."""
        token = self.credentials().token
        if token is None:
            kind = self._settings().kind
            pytest.skip(
                f"target '{self._target.name}' {NO_TOKEN.get(kind, 'has no token')}, which has no token; "
                "use authed_http, authed_ahttp or ws_connect(auth=True)"
            )
        return token

    def httpx_auth(self) -> httpx.Auth:
        """An httpx auth that puts the credentials on every request of a client, renewing them first when due."""
        from pytest_deploysmoke.clients.login import CredentialsAuth

        return CredentialsAuth(self.renewing)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _settings(self) -> AuthSettings:
        auth = self._target.auth
        if auth is None:
            pytest.skip(f"target '{self._target.name}' has no [auth] section (login_path, username, password or token)")
        if auth.kind == "login" and (not auth.username or not auth.password):
            pytest.skip(f"target '{self._target.name}' has no [auth] username and password, and no token")
        return auth

    def _login(self) -> LoginFlow:
        """One login, its failure turned into one redacted line and remembered."""
        from pytest_deploysmoke.clients.login import LoginFailed, login_flow, static_secrets

        auth = self._settings()
        if self._failure is not None:
            raise unchecked(self._failure)
        self._redactor.add_all(static_secrets(auth))
        try:
            credentials = yield from login_flow(self._target, auth)
        except LoginFailed as exc:
            self._failure = self._redactor.redact(str(exc))
            raise unchecked(self._failure) from None
        self._redactor.add_all(credentials.secrets)
        message = expired_message(credentials.token) if credentials.token else None
        if message:
            self._failure = message
            raise unchecked(message)
        self._credentials = credentials
        return credentials

    def _login_client(self) -> SmokeClient:
        if self._client is None:
            from pytest_deploysmoke.clients.http import make_client

            self._client = make_client(self._config, self._target)
        return self._client


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
