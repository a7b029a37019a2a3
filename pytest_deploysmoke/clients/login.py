"""Logging in as services implement it: the login's requests, what its answers mean, the credentials it gives.

A login is a generator, :data:`LoginFlow`: it yields each request it needs sent and gets the answer
back, and returns the :class:`Credentials`.  The logic lives here once; whoever sends the requests
drives it: the auth session's own client for the first login, and an authed client's httpx auth
flow for a renewal, so that the renewal is recorded on the check that triggered it.  This module
imports httpx, so it is imported only when a check asks for a login.
"""

from __future__ import annotations

import base64
import html.parser
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import quote

import httpx

from pytest_deploysmoke.clients.http import LOGIN_EXTENSION
from pytest_deploysmoke.clients.json_path import dig
from pytest_deploysmoke.clients.network import excerpt
from pytest_deploysmoke.config.model import AuthKind, AuthSettings, Target
from pytest_deploysmoke.guard import SAFE_METHODS
from pytest_deploysmoke.results.records import shown_url

#: A token is renewed this long before it expires ...
RENEW_LEEWAY_S: Final = 30.0
#: ... or this share of its lifetime before, when that is shorter (a token that lives 2 s is renewed after 1.8 s).
RENEW_LEEWAY_SHARE: Final = 0.1


class LoginFailed(Exception):
    """The login was sent and answered, and the answer is not a login: one line, not yet redacted."""


@dataclass(frozen=True, slots=True)
class SessionCookie:
    """A cookie the login set, with the domain and path it was set for."""

    name: str
    value: str
    domain: str
    path: str = "/"


def _no_headers() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Credentials:
    """What an authed request carries, as one login gave it: headers, session cookies, a CSRF token,
    and when to log in again."""

    kind: AuthKind
    #: Sent on every authed request (``Authorization: Bearer ...``, ``X-Api-Key: ...``).
    headers: Mapping[str, str] = field(default_factory=_no_headers)
    #: The session's cookies (``session = "cookie"``).
    cookies: tuple[SessionCookie, ...] = ()
    #: The bearer token or API key, for ``auth_token``; None for a session and for HTTP Basic.
    token: str | None = None
    #: The header a request that may write sends the CSRF token in.
    csrf_header: str | None = None
    #: The cookie the current CSRF token is read from, at each request (a framework may rotate it).
    csrf_cookie: str | None = None
    #: The CSRF token read at login (from the login form or a header), when no cookie carries it.
    csrf_token: str | None = None
    #: ``time.monotonic()`` after which the next authed request logs in again; None: never.
    renew_at: float | None = None
    #: Every value obtained that must never be shown.
    secrets: tuple[str, ...] = ()

    def due(self, now: float | None = None) -> bool:
        """Whether the credentials are about to expire, so the next request logs in again first."""
        if self.renew_at is None:
            return False
        return (time.monotonic() if now is None else now) >= self.renew_at

    def headers_for(self, method: str, cookie_header: str | None = None) -> dict[str, str]:
        """The headers a *method* request carries: the login's, and the CSRF token when the method may write.

        *cookie_header* is the request's ``Cookie`` header, where the current CSRF cookie is read.
        """
        headers = dict(self.headers)
        if self.csrf_header and method.upper() not in SAFE_METHODS:
            token = _cookie_value(cookie_header, self.csrf_cookie) if self.csrf_cookie else None
            token = token or self._cookie(self.csrf_cookie) or self.csrf_token
            if token:
                headers[self.csrf_header] = token
        return headers

    def request_headers(self, method: str = "GET") -> dict[str, str]:
        """The headers of a request sent without a cookie jar (a WebSocket handshake): the session's cookies too."""
        headers = self.headers_for(method)
        if self.cookies:
            headers["Cookie"] = cookie_header(self.cookies)
        return headers

    def cookie_jar(self) -> httpx.Cookies:
        """The session's cookies, for a client's jar, each for the domain and path it was set for."""
        jar = httpx.Cookies()
        for cookie in self.cookies:
            jar.set(cookie.name, cookie.value, domain=cookie.domain, path=cookie.path)
        return jar

    def apply(self, request: httpx.Request) -> None:
        """Put the credentials' headers (and, when it may write, the CSRF token) on *request*."""
        request.headers.update(self.headers_for(request.method, request.headers.get("cookie")))

    def _cookie(self, name: str | None) -> str | None:
        return next((cookie.value for cookie in self.cookies if cookie.name == name), None) if name else None


#: A login: it yields each request to send and is sent its answer; it returns the credentials.
LoginFlow = Generator[httpx.Request, httpx.Response, Credentials]


def login_flow(target: Target, auth: AuthSettings) -> LoginFlow:
    """Log in to *target* the way ``auth`` says; raise LoginFailed when an answer is not a login.

    The caller has checked that the credentials it needs are there (the username and password of a login).
    """
    kind = auth.kind
    if kind == "session":
        return (yield from _session_login(target, auth))
    if kind in ("login", "client_credentials"):
        return (yield from _token_login(target, auth))
    if kind == "basic":
        encoded = _basic(auth.username or "", auth.password.reveal() if auth.password else "")
        return Credentials(kind, MappingProxyType({"Authorization": f"Basic {encoded}"}), secrets=(encoded,))
    token = auth.token.reveal() if auth.token else ""
    header = auth.header if kind == "api_key" and auth.header else "Authorization"
    value = token if kind == "api_key" else f"Bearer {token}"
    return Credentials(kind, MappingProxyType({header: value}), token=token, secrets=(token,))


def static_secrets(auth: AuthSettings) -> tuple[str, ...]:
    """The secrets a login sends that the config does not hold as they are: HTTP Basic's encoded pairs."""
    found = []
    if auth.username and auth.password:
        found.append(_basic(auth.username, auth.password.reveal()))
    if auth.client_id and auth.client_secret:
        found.append(_basic(quote(auth.client_id, safe=""), quote(auth.client_secret.reveal(), safe="")))
    return tuple(found)


# --------------------------------------------------------------------------- token logins


@dataclass(frozen=True, slots=True)
class _Sent:
    """A login request, and how messages describe it (never with a value)."""

    request: httpx.Request
    body: str  # "JSON body" or "form body"
    fields: tuple[str, ...]
    what: str  # "login POST /api/login (JSON body: email, password) as smoke@example.com"


def _token_login(target: Target, auth: AuthSettings) -> LoginFlow:
    """A login, or an OAuth2 grant, whose answer carries a token (in the body, or a header)."""
    sent = _token_request(target, auth)
    response = yield sent.request
    if not response.is_success:
        raise LoginFailed(_failed(target, auth, sent, response))
    if auth.token_header:
        token = response.headers.get(auth.token_header, "")
        if token[:7].lower() == "bearer ":
            token = token[7:]
        if not token:
            raise LoginFailed(
                f"{sent.what} answered {response.status_code} without a {auth.token_header} header "
                f"(headers: {', '.join(sorted(response.headers))}); "
                f"set token_header in [targets.{target.name}.auth] to the header that carries the token"
            )
        document: Any = None
    else:
        try:
            document = response.json()
        except ValueError:
            raise LoginFailed(
                f"{sent.what} answered {response.status_code} with a body that is not JSON: "
                f"{excerpt(response.text)}; check {_path_key(auth)} (a login page instead of the API is a common cause)"
            ) from None
        token = dig(document, auth.token_path)
        if not isinstance(token, str) or not token:
            keys = ", ".join(sorted(document)) if isinstance(document, dict) else type(document).__name__
            raise LoginFailed(
                f"{sent.what} answered {response.status_code} without a token at '{auth.token_path}' "
                f"(top-level keys: {keys}); set token_path to where the token is"
            )
    return Credentials(
        auth.kind,
        MappingProxyType({"Authorization": f"Bearer {token}"}),
        token=token,
        renew_at=_renew_at(document),
        secrets=(token,),
    )


def _token_request(target: Target, auth: AuthSettings) -> _Sent:
    fields: dict[str, str] = {}
    headers = {"Accept": "application/json"}
    if auth.grant:
        fields["grant_type"] = auth.grant
    if auth.kind == "login":
        fields[auth.username_field] = auth.username or ""
        fields[auth.password_field] = auth.password.reveal() if auth.password else ""
    for key in ("scope", "audience"):
        if getattr(auth, key):
            fields[key] = getattr(auth, key)
    client = ""
    if auth.client_id:
        if auth.client_auth == "basic" and auth.client_secret:
            pair = (quote(auth.client_id, safe=""), quote(auth.client_secret.reveal(), safe=""))
            headers["Authorization"] = f"Basic {_basic(*pair)}"
            client = f"client {auth.client_id} by HTTP Basic"
        else:
            fields["client_id"] = auth.client_id
            if auth.client_secret:
                fields["client_secret"] = auth.client_secret.reveal()
            client = f"client {auth.client_id} in the body"
    request = _request(target, "POST", auth.post_path, headers, fields, auth.body)
    body = "JSON body" if auth.body == "json" else "form body"
    who = f" as {auth.username}" if auth.kind == "login" else ""
    step = "login" if auth.kind == "login" else "token request"
    shown = f"{body}: {', '.join(fields)}" + (f"; {client}" if client else "")
    what = f"{step} POST {_shown_path(target, auth.post_path)} ({shown}){who}"
    return _Sent(request, body, tuple(fields), what)


def _renew_at(document: Any) -> float | None:
    """When to log in again, from the answer's ``expires_in`` (seconds); None when it does not say."""
    expires_in = document.get("expires_in") if isinstance(document, dict) else None
    try:
        lifetime = float(expires_in) if expires_in is not None and not isinstance(expires_in, bool) else None
    except ValueError:
        return None
    if lifetime is None or lifetime < 0:
        return None
    return time.monotonic() + lifetime - min(RENEW_LEEWAY_S, lifetime * RENEW_LEEWAY_SHARE)


# --------------------------------------------------------------------------- session logins


def _session_login(target: Target, auth: AuthSettings) -> LoginFlow:
    """A login that sets a session cookie, fetching the CSRF token first when the service wants one."""
    cookies: dict[str, SessionCookie] = {}
    csrf_token = None
    path = _shown_path(target, auth.login_path)
    if auth.csrf_cookie or auth.csrf_field or auth.csrf_header:
        page = yield _request(target, "GET", auth.login_path, {"Accept": "text/html"}, {}, None)
        what = f"login GET {path} (for the CSRF token)"
        if not page.is_success:
            raise LoginFailed(
                f"{what} answered {page.status_code}: {excerpt(page.text)}; "
                f"check [targets.{target.name}.auth] login_path"
            )
        cookies.update(_set_cookies(page))
        csrf_token = _csrf_token(target, auth, page, cookies, what)
    fields = {
        auth.username_field: auth.username or "",
        auth.password_field: auth.password.reveal() if auth.password else "",
    }
    headers: dict[str, str] = {}
    if auth.csrf_field and csrf_token:
        fields[auth.csrf_field] = csrf_token
    if auth.csrf_header and csrf_token:
        headers[auth.csrf_header] = csrf_token
    if cookies:
        headers["Cookie"] = cookie_header(cookies.values())
    body = "JSON body" if auth.body == "json" else "form body"
    sent = _Sent(
        _request(target, "POST", auth.login_path, headers, fields, auth.body),
        body,
        tuple(fields),
        f"login POST {path} ({body}: {', '.join(fields)}) as {auth.username}",
    )
    response = yield sent.request
    if response.status_code >= 400:
        raise LoginFailed(_failed(target, auth, sent, response))
    set_now = _set_cookies(response)
    session = [name for name in set_now if name != auth.csrf_cookie]
    if not session:
        location = response.headers.get("location")
        answered = f"answered {response.status_code}" + (
            f" (a redirect to {location})" if location else f": {excerpt(response.text)}"
        )
        raise LoginFailed(
            f"{sent.what} {answered} and set no session cookie; "
            f"check [targets.{target.name}.auth] username and password "
            "(a login form shown again, or a redirect back to it, is how a cookie login says they are wrong)"
        )
    cookies.update(set_now)
    if auth.csrf_header and not auth.csrf_cookie and response.headers.get(auth.csrf_header):
        csrf_token = response.headers[auth.csrf_header]
    return Credentials(
        "session",
        cookies=tuple(cookies.values()),
        csrf_header=auth.csrf_header,
        csrf_cookie=auth.csrf_cookie,
        csrf_token=csrf_token,
        secrets=tuple(cookie.value for cookie in cookies.values()) + ((csrf_token,) if csrf_token else ()),
    )


def _csrf_token(
    target: Target, auth: AuthSettings, page: httpx.Response, cookies: Mapping[str, SessionCookie], what: str
) -> str:
    """The CSRF token the login page gave: from its form, its cookie, or its header, in that order."""
    where = f"[targets.{target.name}.auth]"
    if auth.csrf_field:
        token = _form_value(page.text, auth.csrf_field)
        if not token:
            raise LoginFailed(
                f"{what} answered {page.status_code} without a form field '{auth.csrf_field}': {excerpt(page.text)}; "
                f"check csrf_field in {where} (the name of the login form's hidden input)"
            )
        return token
    if auth.csrf_cookie:
        cookie = cookies.get(auth.csrf_cookie)
        if cookie is None:
            set_ = ", ".join(cookies) or "none"
            raise LoginFailed(
                f"{what} answered {page.status_code} and set no cookie '{auth.csrf_cookie}' (cookies set: {set_}); "
                f"check csrf_cookie in {where}"
            )
        return cookie.value
    token = str(page.headers.get(auth.csrf_header or "", ""))
    if not token:
        raise LoginFailed(
            f"{what} answered {page.status_code} without a {auth.csrf_header} header "
            f"(headers: {', '.join(sorted(page.headers))}); check csrf_header in {where}, "
            "or read the token from csrf_cookie or csrf_field"
        )
    return token


def _set_cookies(response: httpx.Response) -> dict[str, SessionCookie]:
    """The cookies *response* sets, by name."""
    return {
        cookie.name: SessionCookie(cookie.name, cookie.value or "", cookie.domain, cookie.path or "/")
        for cookie in response.cookies.jar
    }


def cookie_header(cookies: Any) -> str:
    """A ``Cookie`` header carrying *cookies* (SessionCookie objects)."""
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in cookies)


def _cookie_value(header: str | None, name: str) -> str | None:
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class _FormValue(html.parser.HTMLParser):
    """The value of the first ``<input name=NAME>`` (or ``<meta name=NAME content=...>``) of a page."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.value: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if self.value is None and found.get("name") == self.name:
            if tag == "input":
                self.value = found.get("value") or None
            elif tag == "meta":
                self.value = found.get("content") or None


def _form_value(page: str, name: str) -> str | None:
    parser = _FormValue(name)
    parser.feed(page)
    return parser.value


# --------------------------------------------------------------------------- requests and hints


def _request(
    target: Target,
    method: str,
    path: str,
    headers: Mapping[str, str],
    fields: Mapping[str, str],
    body: str | None,
) -> httpx.Request:
    """A login request: exempt from the production guard, bounded by the target's timeout."""
    url = path if "://" in path else target.base_url + path
    own = url.startswith(target.base_url)  # the target's headers go to the target only, not to an identity provider
    options: dict[str, Any] = {}
    if body == "json":
        options["json"] = dict(fields)
    elif body == "form":
        options["data"] = dict(fields)
    return httpx.Request(
        method,
        url,
        headers={**(target.headers if own else {}), **headers},
        extensions={LOGIN_EXTENSION: True, "timeout": httpx.Timeout(target.timeout).as_dict()},
        **options,
    )


def _failed(target: Target, auth: AuthSettings, sent: _Sent, response: httpx.Response) -> str:
    """The one line for a login answered with an error status: what was sent, what came back, what to fix."""
    return (
        f"{sent.what} answered {response.status_code}: {excerpt(response.text)}; {_hint(target, auth, sent, response)}"
    )


def _hint(target: Target, auth: AuthSettings, sent: _Sent, response: httpx.Response) -> str:
    where = f"[targets.{target.name}.auth]"
    status = response.status_code
    if status in (400, 401, 403):
        if "csrf" in response.text.lower():
            return f"the service refused the CSRF token; check csrf_cookie, csrf_field and csrf_header in {where}"
        if auth.kind == "client_credentials":
            return f'check {where} client_id and client_secret, and client_auth ("basic" or "body")'
        return f"check {where} username and password" + (" (and client_id, client_secret)" if auth.client_id else "")
    if status in (415, 422):
        return _body_hint(where, sent, response)
    if status in (404, 405):
        return f"check {where} {_path_key(auth)}"
    if status >= 500:
        return "the login endpoint itself failed; the service's logs say why"
    if 300 <= status < 400:
        return f"it redirected to {response.headers.get('location', '?')}; check {where} {_path_key(auth)}"
    return f"check {where}"


def _body_hint(where: str, sent: _Sent, response: httpx.Response) -> str:
    """What a 415 or 422 says about the body: a form was expected, JSON was, or other fields."""
    json_sent = sent.body == "JSON body"
    if response.status_code == 415:
        return f'the endpoint does not take a {sent.body}: set body = "{"form" if json_sent else "json"}" in {where}'
    missing = _missing_fields(response)
    if missing and json_sent and set(missing) <= set(sent.fields):
        return (
            f"it found no {', '.join(missing)} in the JSON body it was sent, as an endpoint that reads a form "
            f'(OAuth2PasswordRequestForm) answers: set body = "form" in {where}'
        )
    if missing == [""] and not json_sent:
        return f'the endpoint found no JSON body: set body = "json" in {where}'
    if missing:
        return f"the endpoint asks for {', '.join(missing)}: check username_field and password_field in {where}"
    other = "form" if json_sent else "json"
    return f'check the body kind (sent a {sent.body}; body = "{other}" sends the other) and the field names in {where}'


def _missing_fields(response: httpx.Response) -> list[str]:
    """The body fields a FastAPI/pydantic 422 says are missing (``""`` for the body itself)."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return []
    missing = []
    for entry in detail if isinstance(detail, list) else []:
        loc = entry.get("loc") if isinstance(entry, dict) else None
        if entry.get("type") == "missing" and isinstance(loc, list) and loc and loc[0] == "body":
            missing.append(str(loc[1]) if len(loc) > 1 else "")
    return missing


def _path_key(auth: AuthSettings) -> str:
    return "token_url" if auth.grant and auth.token_url else "login_path"


def _shown_path(target: Target, path: str) -> str:
    return shown_url(path, target.base_url) if "://" in path else path


def _basic(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class CredentialsAuth(httpx.Auth):
    """httpx auth for the authed clients: the run's credentials on every request, renewed through the same
    client first when they are about to expire (so the renewal is recorded on the check that sent it)."""

    requires_response_body = True

    def __init__(self, current: Callable[[], LoginFlow]) -> None:
        self._current = current

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        credentials = yield from self._current()
        credentials.apply(request)
        yield request
