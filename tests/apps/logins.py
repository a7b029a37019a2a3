"""Logins as services implement them, for the auth fixtures' tests.

- ``/form/token``: a FastAPI ``OAuth2PasswordRequestForm`` login: it reads a form, answers a JSON
  body with FastAPI's 422, and ``grant_type``, if sent, must be ``password``;
- ``/oauth/token``: an OAuth2 token endpoint for the client credentials grant (RFC 6749 4.4), the
  client authenticated by HTTP Basic or in the body; ``SHORT_CLIENT_ID``'s tokens expire after
  ``SHORT_LIFETIME_S``, and an expired token is refused;
- ``/accounts/login/``: a Django-style session login: a GET sets the ``csrftoken`` cookie and puts
  the token in the form's ``csrfmiddlewaretoken``; a POST without a matching token is refused with
  Django's 403; wrong credentials show the form again; the login sets ``sessionid``, rotates the
  CSRF token and redirects; unsafe API calls need ``X-CSRFToken`` equal to the cookie;
- ``/express/login``: an Express-style session login whose CSRF token comes in a response header;
- ``/basic/me``, ``/key/me`` and ``/header/login``: HTTP Basic, an API key header, and a login
  that answers with the token in a header.

The protected endpoints say who asked (``{"user": ..., "via": ...}``).  State lives in memory.
"""

from __future__ import annotations

import base64
import itertools
import secrets
import time
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

USERNAME = "smoke"
PASSWORD = "login-pass-7f3k2q9z"
CLIENT_ID = "smoke-client"
CLIENT_SECRET = "cc-secret-9x8w7v6u5t"
SHORT_CLIENT_ID = "short-client"
SHORT_LIFETIME_S = 1
LONG_LIFETIME_S = 3600
API_KEY = "api-key-5d4c3b2a1z0y"


@dataclass
class Token:
    user: str
    via: str
    expires_at: float | None = None  # time.monotonic()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class State:
    tokens: dict[str, Token] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)  # sessionid -> user
    express: dict[str, str] = field(default_factory=dict)  # csrf token -> "" (not logged in) or connect.sid
    notes: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    issued: dict[str, int] = field(default_factory=dict)  # client id -> tokens issued


STATE = State()


def _issue(user: str, via: str, lifetime: float | None = None, extra: dict[str, Any] | None = None) -> str:
    token = secrets.token_urlsafe(24)
    expires_at = time.monotonic() + lifetime if lifetime is not None else None
    STATE.tokens[token] = Token(user, via, expires_at, extra or {})
    return token


def _bearer(connection: HTTPConnection) -> Token | str | None:
    """The token of the request's bearer header; "expired" for one that has expired."""
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    token = STATE.tokens.get(value) if scheme.lower() == "bearer" else None
    if token is not None and token.expires_at is not None and time.monotonic() >= token.expires_at:
        return "expired"
    return token


async def _form(request: Request) -> dict[str, str]:
    """The request's urlencoded form ({} for any other body), read without python-multipart, which Starlette needs."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


async def me(request: Request) -> Response:
    token = _bearer(request)
    if token == "expired":
        return JSONResponse({"detail": "token expired"}, status_code=401)
    if not isinstance(token, Token):
        return JSONResponse({"detail": "Not authenticated"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return JSONResponse({"user": token.user, "via": token.via, **token.extra})


# --------------------------------------------------------------------------- FastAPI's form login


def _missing(*names: str) -> JSONResponse:
    detail = [{"type": "missing", "loc": ["body", name], "msg": "Field required", "input": None} for name in names]
    return JSONResponse({"detail": detail}, status_code=422)


async def form_token(request: Request) -> Response:
    """What FastAPI answers for ``form_data: OAuth2PasswordRequestForm = Depends()``."""
    form = await _form(request)
    missing = [name for name in ("username", "password") if not form.get(name)]
    if missing:
        return _missing(*missing)
    grant_type = form.get("grant_type")
    if grant_type is not None and grant_type != "password":
        detail = [{"type": "string_pattern_mismatch", "loc": ["body", "grant_type"], "msg": "String should match"}]
        return JSONResponse({"detail": detail}, status_code=422)
    if (form["username"], form["password"]) != (USERNAME, PASSWORD):
        return JSONResponse(
            {"detail": "Incorrect username or password"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    extra = {key: str(form[key]) for key in ("scope", "client_id") if form.get(key)}
    token = _issue(USERNAME, "form" + ("+grant" if grant_type else ""), extra=extra)
    return JSONResponse({"access_token": token, "token_type": "bearer"})


# --------------------------------------------------------------------------- OAuth2 client credentials


async def oauth_token(request: Request) -> Response:
    form = await _form(request)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        client_id, _, client_secret = base64.b64decode(value).decode().partition(":")
        how = "basic"
    else:
        client_id, client_secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        how = "body"
    if client_id not in (CLIENT_ID, SHORT_CLIENT_ID) or client_secret != CLIENT_SECRET:
        return JSONResponse({"error": "invalid_client"}, status_code=401, headers={"WWW-Authenticate": "Basic"})
    if form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    lifetime = SHORT_LIFETIME_S if client_id == SHORT_CLIENT_ID else LONG_LIFETIME_S
    extra = {key: str(form[key]) for key in ("scope", "audience") if form.get(key)}
    token = _issue(client_id, f"client_credentials/{how}", lifetime, extra)
    STATE.issued[client_id] = STATE.issued.get(client_id, 0) + 1
    return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": lifetime, **extra})


async def issued(request: Request) -> Response:
    return JSONResponse(STATE.issued)


# --------------------------------------------------------------------------- Django-style session login

LOGIN_FORM = """<!doctype html><html><head><title>Log in</title></head><body>{error}
<form method="post" action="/accounts/login/">
<input type="hidden" name="csrfmiddlewaretoken" value="{token}">
<input type="text" name="username"><input type="password" name="password">
<button type="submit">Log in</button></form></body></html>"""
CSRF_FAILED = "<h1>Forbidden (403)</h1><p>CSRF verification failed. Request aborted.</p>"


def _login_form(token: str, error: str = "") -> HTMLResponse:
    response = HTMLResponse(LOGIN_FORM.format(token=token, error=error))
    response.set_cookie("csrftoken", token, samesite="lax")
    return response


async def django_login(request: Request) -> Response:
    if request.method == "GET":
        return _login_form(request.cookies.get("csrftoken") or secrets.token_hex(16))
    form = await _form(request)
    cookie = request.cookies.get("csrftoken")
    sent = form.get("csrfmiddlewaretoken") or request.headers.get("x-csrftoken")
    if not cookie or sent != cookie:
        return HTMLResponse(CSRF_FAILED, status_code=403)
    if (form.get("username"), form.get("password")) != (USERNAME, PASSWORD):
        return _login_form(cookie, "<p>Please enter a correct username and password.</p>")
    session = secrets.token_hex(16)
    STATE.sessions[session] = USERNAME
    response = RedirectResponse("/accounts/profile/", status_code=302)
    response.set_cookie("sessionid", session, httponly=True, samesite="lax")
    response.set_cookie("csrftoken", secrets.token_hex(16), samesite="lax")  # Django rotates it at login
    return response


def _session_user(connection: HTTPConnection) -> str | None:
    return STATE.sessions.get(connection.cookies.get("sessionid", ""))


async def django_me(request: Request) -> Response:
    user = _session_user(request)
    if user is None:
        return JSONResponse({"detail": "Authentication credentials were not provided."}, status_code=403)
    return JSONResponse({"user": user, "via": "session"})


async def django_notes(request: Request) -> Response:
    if _session_user(request) is None:
        return JSONResponse({"detail": "Authentication credentials were not provided."}, status_code=403)
    if request.headers.get("x-csrftoken") != request.cookies.get("csrftoken"):
        return JSONResponse({"detail": "CSRF Failed: CSRF token missing or incorrect."}, status_code=403)
    return JSONResponse({"id": next(STATE.notes)}, status_code=201)


async def django_profile(request: Request) -> Response:
    user = _session_user(request)
    if user is None:
        return RedirectResponse("/accounts/login/", status_code=302)
    return HTMLResponse(
        f'<!doctype html><html><head><title>Profile</title></head><body><h1 id="user">{escape(user)}</h1>'
    )


async def django_ws(websocket: WebSocket) -> None:
    user = _session_user(websocket)
    if user is None:
        await websocket.close(code=4403)
        return
    await websocket.accept()
    await websocket.send_json({"user": user, "via": "session"})
    await websocket.close()


# --------------------------------------------------------------------------- Express-style, CSRF in a header


async def express_login(request: Request) -> Response:
    if request.method == "GET":
        token = secrets.token_hex(16)
        STATE.express[token] = ""
        return JSONResponse({"login": "post username and password"}, headers={"X-CSRF-Token": token})
    token = request.headers.get("x-csrf-token", "")
    if token not in STATE.express:
        return JSONResponse({"error": "invalid csrf token"}, status_code=403)
    body = await request.json()
    if (body.get("username"), body.get("password")) != (USERNAME, PASSWORD):
        return JSONResponse({"error": "invalid credentials"}, status_code=401)
    session = secrets.token_hex(16)
    STATE.sessions[session] = USERNAME
    STATE.express[token] = session
    response = JSONResponse({"ok": True})
    response.set_cookie("connect.sid", session, httponly=True)
    return response


async def express_items(request: Request) -> Response:
    session = request.cookies.get("connect.sid", "")
    if session not in STATE.sessions:
        return JSONResponse({"error": "not logged in"}, status_code=401)
    if STATE.express.get(request.headers.get("x-csrf-token", "")) != session:
        return JSONResponse({"error": "invalid csrf token"}, status_code=403)
    return JSONResponse({"id": next(STATE.notes)}, status_code=201)


# --------------------------------------------------------------------------- Basic, API key, token in a header


async def basic_me(request: Request) -> Response:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and base64.b64decode(value).decode() == f"{USERNAME}:{PASSWORD}":
        return JSONResponse({"user": USERNAME, "via": "basic"})
    return JSONResponse({"detail": "Invalid credentials"}, status_code=401, headers={"WWW-Authenticate": "Basic"})


async def key_me(request: Request) -> Response:
    if request.headers.get("x-api-key") == API_KEY and "authorization" not in request.headers:
        return JSONResponse({"user": "key-holder", "via": "api_key"})
    return JSONResponse({"detail": "invalid or missing API key"}, status_code=403)


async def header_login(request: Request) -> Response:
    body = await request.json()
    if (body.get("username"), body.get("password")) != (USERNAME, PASSWORD):
        return JSONResponse({"detail": "invalid credentials"}, status_code=401)
    return JSONResponse({"ok": True}, headers={"X-Auth-Token": _issue(USERNAME, "token_header")})


app = Starlette(
    routes=[
        Route("/me", me),
        Route("/form/token", form_token, methods=["POST"]),
        Route("/oauth/token", oauth_token, methods=["POST"]),
        Route("/oauth/issued", issued),
        Route("/accounts/login/", django_login, methods=["GET", "POST"]),
        Route("/accounts/profile/", django_profile),
        Route("/api/me", django_me),
        Route("/api/notes", django_notes, methods=["POST"]),
        WebSocketRoute("/ws/me", django_ws),
        Route("/express/login", express_login, methods=["GET", "POST"]),
        Route("/express/items", express_items, methods=["POST"]),
        Route("/basic/me", basic_me),
        Route("/key/me", key_me),
        Route("/header/login", header_login, methods=["POST"]),
    ]
)
