"""A JWT-protected API stand-in for the plugin's connection fixtures: HTTP, JWT login, WebSocket.

Its state (registered users, items, opaque tokens, flaky counters) lives in memory for the life of
the process; ``reset_state()`` clears it.  Some answers leak secrets on purpose (the 401 of a failed
login echoes the password, ``/boom`` names a database URL with a password) so that tests can prove
the plugin redacts what it reports.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from jwt.algorithms import HMACAlgorithm
from jwt.api_jws import PyJWS
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

VERSION = "2.0.1"
USER_EMAIL = "smoke@example.com"
USER_PASSWORD = "correct-horse-battery"
JWT_SECRET = "stand-in-signing-key-0123456789"
ALGORITHM = "HS256"
TOKEN_LIFETIME_S = 3600
TICK_INTERVAL_S = 0.05
WS_UNAUTHORIZED = 4401
ITEMS_ALLOW = "GET, HEAD, POST, OPTIONS"
ITEM_ALLOW = "PUT, PATCH, DELETE, OPTIONS"


class _State:
    def __init__(self) -> None:
        self.user_ids = itertools.count(1)
        self.users: dict[int, dict[str, Any]] = {}  # id -> {"id", "email", "password"}
        self.item_ids = itertools.count(1)
        self.items: dict[int, dict[str, Any]] = {}
        self.opaque_tokens: dict[str, str] = {}  # token -> email
        self.flaky: dict[str, int] = {}  # key -> requests seen


STATE = _State()


def reset_state() -> None:
    """Forget registered users, items, opaque tokens and flaky counters."""
    global STATE
    STATE = _State()


# --- tokens --------------------------------------------------------------------------------------


class AuthError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class _TestKeyHMAC(HMACAlgorithm):
    """HS256 without PyJWT's short-key warning: JWT_SECRET is 31 bytes, below the 32 PyJWT recommends,
    and the suite turns warnings into errors (also in the server thread, as filters are process-wide)."""

    def check_key_length(self, key: bytes) -> str | None:
        return None


_JWS = PyJWS(algorithms=[])
_JWS.register_algorithm(ALGORITHM, _TestKeyHMAC(HMACAlgorithm.SHA256))


def make_jwt(email: str, *, lifetime_s: int = TOKEN_LIFETIME_S) -> str:
    """A standard HS256 JWT signed with JWT_SECRET: ``sub`` = email, ``iat``, ``exp`` = now + lifetime_s."""
    now = int(time.time())
    claims = {"sub": email, "iat": now, "exp": now + lifetime_s}
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return _JWS.encode(payload, JWT_SECRET, algorithm=ALGORITHM, headers={"typ": "JWT"})


def check_token(token: str) -> str:
    """The email a token belongs to; ``AuthError`` if it is unknown, invalid or expired."""
    if token in STATE.opaque_tokens:
        return STATE.opaque_tokens[token]
    try:
        claims = json.loads(_JWS.decode(token, JWT_SECRET, algorithms=[ALGORITHM]))
    except (jwt.InvalidTokenError, ValueError):
        raise AuthError("not authenticated") from None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    if not isinstance(subject, str):
        raise AuthError("not authenticated")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise AuthError("not authenticated")
    if exp <= time.time():
        raise AuthError("token expired")
    return subject


def bearer_token(conn: HTTPConnection) -> str | None:
    scheme, _, token = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(conn: HTTPConnection) -> str:
    token = bearer_token(conn)
    if token is None:
        raise AuthError("not authenticated")
    return check_token(token)


Endpoint = Callable[[Request], Awaitable[Response]]


def requires_auth(endpoint: Callable[[Request, str], Awaitable[Response]]) -> Endpoint:
    async def wrapper(request: Request) -> Response:
        try:
            email = authenticate(request)
        except AuthError as exc:
            return JSONResponse({"detail": exc.detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return await endpoint(request, email)

    wrapper.__name__ = endpoint.__name__
    return wrapper


async def json_body(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def credentials_ok(email: object, password: object) -> bool:
    if not isinstance(email, str) or not isinstance(password, str):
        return False
    if email == USER_EMAIL:
        return secrets.compare_digest(password, USER_PASSWORD)
    return any(u["email"] == email and u["password"] == password for u in STATE.users.values())


# --- HTTP ----------------------------------------------------------------------------------------


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": VERSION})


async def _login(request: Request, *, lifetime_s: int) -> Response:
    body = await json_body(request)
    if body is None:
        return JSONResponse({"detail": "expected a JSON object with email and password"}, status_code=422)
    email, password = body.get("email"), body.get("password")
    if not credentials_ok(email, password):
        return JSONResponse({"detail": "invalid credentials", "echo_password": password}, status_code=401)
    assert isinstance(email, str)
    token = make_jwt(email, lifetime_s=lifetime_s)
    return JSONResponse({"access_token": token, "token_type": "bearer", "data": {"token": token}})


async def login(request: Request) -> Response:
    return await _login(request, lifetime_s=TOKEN_LIFETIME_S)


async def login_expired(request: Request) -> Response:
    return await _login(request, lifetime_s=-60)


async def login_opaque(request: Request) -> Response:
    token = f"opaque-token-{secrets.token_hex(12)}"
    STATE.opaque_tokens[token] = USER_EMAIL
    return JSONResponse({"access_token": token, "token_type": "bearer"})


async def register(request: Request) -> Response:
    body = await json_body(request)
    email = body.get("email") if body else None
    password = body.get("password") if body else None
    if not isinstance(email, str) or "@" not in email or not isinstance(password, str) or not password:
        return JSONResponse({"detail": "email and password are required"}, status_code=422)
    if email == USER_EMAIL or any(u["email"] == email for u in STATE.users.values()):
        return JSONResponse({"detail": "email already registered"}, status_code=409)
    user_id = next(STATE.user_ids)
    STATE.users[user_id] = {"id": user_id, "email": email, "password": password}
    return JSONResponse({"id": user_id, "email": email}, status_code=201)


@requires_auth
async def delete_user(request: Request, email: str) -> Response:
    if STATE.users.pop(int(request.path_params["user_id"]), None) is None:
        return JSONResponse({"detail": "user not found"}, status_code=404)
    return Response(status_code=204)


@requires_auth
async def admin_users(request: Request, email: str) -> Response:
    prefix = request.query_params.get("prefix", "")
    return JSONResponse(
        [{"id": u["id"], "email": u["email"]} for u in STATE.users.values() if u["email"].startswith(prefix)]
    )


@requires_auth
async def users_me(request: Request, email: str) -> Response:
    return JSONResponse({"email": email, "ai_allowlisted": False})


async def echo_headers(request: Request) -> Response:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():  # repeated headers are joined, as HTTP allows
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return JSONResponse(headers)


async def items(request: Request) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": ITEMS_ALLOW})
    if request.method == "POST":
        body = await json_body(request) or {}
        item_id = next(STATE.item_ids)
        STATE.items[item_id] = {**body, "id": item_id}
        return JSONResponse({"id": item_id}, status_code=201)
    return JSONResponse(list(STATE.items.values()))


async def item(request: Request) -> Response:
    """PUT replaces, PATCH merges, DELETE removes; unknown ids are accepted (PUT/PATCH create them)."""
    item_id = int(request.path_params["item_id"])
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": ITEM_ALLOW})
    if request.method == "DELETE":
        STATE.items.pop(item_id, None)
        return Response(status_code=204)
    body = await json_body(request) or {}
    base = STATE.items.get(item_id, {}) if request.method == "PATCH" else {}
    STATE.items[item_id] = {**base, **body, "id": item_id}
    return JSONResponse(STATE.items[item_id])


async def slow(request: Request) -> Response:
    seconds = float(request.query_params.get("s", "2"))
    await asyncio.sleep(seconds)
    return JSONResponse({"slept": seconds})


async def malformed(request: Request) -> Response:
    return Response(b'{"status": "ok",', media_type="application/json")


async def boom(request: Request) -> Response:
    return PlainTextResponse("Internal Server Error: db=postgresql://app:leaked-pass@db/app", status_code=500)


async def status(request: Request) -> Response:
    code = int(request.path_params["code"])
    if code in (204, 304):
        return Response(status_code=code)
    return JSONResponse({"status": code}, status_code=code)


async def flaky(request: Request) -> Response:
    key = request.query_params.get("key", "default")
    fail = int(request.query_params.get("fail", "1"))
    seen = STATE.flaky[key] = STATE.flaky.get(key, 0) + 1
    if seen <= fail:
        return JSONResponse(
            {"detail": "temporarily unavailable", "attempt": seen},
            status_code=503,
            headers={"Retry-After": "0"},
        )
    return JSONResponse({"status": "ok", "attempt": seen})


# --- WebSocket -----------------------------------------------------------------------------------


def _ws_authorized(websocket: WebSocket) -> bool:
    token = websocket.query_params.get("token") or bearer_token(websocket)
    if not token:
        return False
    try:
        check_token(token)
    except AuthError:
        return False
    return True


async def _drain_until_disconnect(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def ws_tickers(websocket: WebSocket) -> None:
    await websocket.accept()
    if websocket.query_params.get("auth") == "1" and not _ws_authorized(websocket):
        await websocket.close(code=WS_UNAUTHORIZED, reason="unauthorized")
        return
    listener = asyncio.ensure_future(_drain_until_disconnect(websocket))
    price = 95_000_000.0
    try:
        await websocket.send_text(json.dumps({"type": "hello"}))
        for seq in itertools.count(1):
            if listener.done():
                return
            price = round(price * (1 + random.uniform(-0.001, 0.001)), 1)
            message = {"type": "ticker", "symbol": "KRW-BTC", "price": price, "seq": seq}
            message["ts"] = int(time.time() * 1000)
            await websocket.send_text(json.dumps(message))
            await asyncio.sleep(TICK_INTERVAL_S)
    except (WebSocketDisconnect, RuntimeError, OSError):
        return  # the client went away between two ticks
    finally:
        if listener.done() and not listener.cancelled():
            listener.exception()  # retrieved, so asyncio does not log it
        listener.cancel()


async def ws_silent(websocket: WebSocket) -> None:
    await websocket.accept()
    await _drain_until_disconnect(websocket)


async def ws_close_immediately(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close(code=1011, reason="upstream unavailable")


async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await websocket.send_text(message["text"])
        elif message.get("bytes") is not None:
            await websocket.send_bytes(message["bytes"])


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/api/v1/auth/login", login, methods=["POST"]),
        Route("/api/v1/auth/login-expired", login_expired, methods=["POST"]),
        Route("/api/v1/auth/login-opaque", login_opaque, methods=["POST"]),
        Route("/api/v1/auth/register", register, methods=["POST"]),
        Route("/api/v1/users/me", users_me),
        Route("/api/v1/users/{user_id:int}", delete_user, methods=["DELETE"]),
        Route("/api/v1/admin/users", admin_users),
        Route("/api/v1/echo-headers", echo_headers),
        Route("/api/v1/items", items, methods=["GET", "POST", "OPTIONS"]),
        Route("/api/v1/items/{item_id:int}", item, methods=["PUT", "PATCH", "DELETE", "OPTIONS"]),
        Route("/slow", slow),
        Route("/malformed", malformed),
        Route("/boom", boom),
        Route("/status/{code:int}", status),
        Route("/flaky", flaky),
        WebSocketRoute("/ws/tickers/krw", ws_tickers),
        WebSocketRoute("/ws/silent", ws_silent),
        WebSocketRoute("/ws/close-immediately", ws_close_immediately),
        WebSocketRoute("/ws/echo", ws_echo),
    ]
)


def slowed(path: str, extra_s: float) -> Callable[..., Awaitable[None]]:
    """The stand-in with a fault: each HTTP request to *path* answers *extra_s* seconds later, all else alike.

    A release that made one endpoint slower while it stays inside its budgets, for the canary comparison.
    """

    async def slowed_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == path:
            await asyncio.sleep(extra_s)
        await app(scope, receive, send)

    return slowed_app
