"""A tiny web app with screens that render, and screens that break the ways deploys break them.

Each page is plain HTML with an inline script that calls the app's own JSON API with fetch, as a
single-page app does.  The token a logged-in page uses is read from localStorage["token"].
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

TOKEN = "pages-test-token-7f3a9c"  # what /api/login hands out; the pages send it back

_HEAD = '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>{title}</title></head>'


def page(title: str, body: str, script: str = "") -> HTMLResponse:
    return HTMLResponse(f"{_HEAD.format(title=title)}<body>{body}<script>{script}</script></body></html>")


async def home(request: Request) -> Response:
    return page(
        "Home",
        '<h1>Home</h1><div id="cards"></div><button id="chart-tab">Chart</button><div id="chart"></div>'
        '<a id="old-link" href="/gone">Old report</a>',
        """
        fetch('/api/cards').then(r => r.json()).then(cards => {
          const box = document.getElementById('cards');
          for (const c of cards) { const d = document.createElement('div'); d.className = 'card'; d.textContent = c; box.append(d); }
        });
        document.getElementById('chart-tab').onclick = () => {
          fetch('/api/chart').then(r => { if (!r.ok) throw new Error('chart API ' + r.status); return r.json(); })
            .then(points => { const c = document.createElement('canvas'); c.id = 'chart-canvas'; document.getElementById('chart').append(c); })
            .catch(e => console.error('chart failed: ' + e.message));
          location.hash = 'chart';
        };
        """,
    )


async def broken_script(request: Request) -> Response:
    return page("Broken", '<h1 id="title">Review</h1>', "const review = undefined; review.items.map(x => x);")


async def api_500(request: Request) -> Response:
    return page("Chart", '<div id="chart"></div>', "fetch('/api/fail').then(r => r.json()).catch(() => {});")


async def console_error(request: Request) -> Response:
    return page("Console", '<h1 id="title">Hi</h1>', "console.error('boom: widget failed to mount');")


async def form(request: Request) -> Response:
    return page(
        "Form",
        '<h1 id="title">New item</h1><button id="save">Save</button><div id="saved"></div>',
        """
        document.getElementById('save').onclick = () =>
          fetch('/api/items', {method: 'POST', body: '{}'}).then(r => r.json())
            .then(item => { document.getElementById('saved').textContent = 'saved ' + item.id; });
        """,
    )


async def private(request: Request) -> Response:
    """A logged-in page: it calls /api/me with the stored token, and shows who is logged in."""
    return page(
        "Private",
        '<h1>Account</h1><div id="me"></div><input type="password" id="pw" value="typed-secret-123">',
        """
        const token = localStorage.getItem('token');
        if (!token) { location.href = '/login'; }
        fetch('/api/me', {headers: {Authorization: 'Bearer ' + token}}).then(r => r.json())
          .then(me => { document.getElementById('me').textContent = me.email; });
        """,
    )


async def shows_token(request: Request) -> Response:
    return page(
        "Token",
        '<h1 id="title">Token</h1><pre id="token"></pre>',
        "document.getElementById('token').textContent = localStorage.getItem('token');",
    )


async def login_page(request: Request) -> Response:
    return page("Login", '<h1 id="title">Log in</h1>')


async def moved(request: Request) -> Response:
    return RedirectResponse("/login", status_code=302)


async def cards(request: Request) -> Response:
    return JSONResponse(["Win rate 54%", "PnL +3.2%", "Trades 41"])


async def chart(request: Request) -> Response:
    if request.app.state.chart_broken:
        return JSONResponse({"error": "klines unavailable"}, status_code=500)
    return JSONResponse([1, 2, 3])


async def fail(request: Request) -> Response:
    return JSONResponse({"error": "boom"}, status_code=500)


async def items(request: Request) -> Response:
    request.app.state.writes += 1
    return JSONResponse({"id": request.app.state.writes}, status_code=201)


async def login(request: Request) -> Response:
    return JSONResponse({"access_token": TOKEN})


async def me(request: Request) -> Response:
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        return JSONResponse({"error": "unauthorized"}, status_code=401)
    return JSONResponse({"email": "smoke@pages.example"})


async def writes(request: Request) -> Response:
    return JSONResponse({"writes": request.app.state.writes})


async def not_found(request: Request) -> Response:
    return HTMLResponse("<h1>404</h1>", status_code=404)


def make_app(*, chart_broken: bool = False) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/home", home),
            Route("/broken-script", broken_script),
            Route("/api-500", api_500),
            Route("/console-error", console_error),
            Route("/form", form),
            Route("/private", private),
            Route("/shows-token", shows_token),
            Route("/login", login_page),
            Route("/moved", moved),
            Route("/gone", not_found),
            Route("/api/cards", cards),
            Route("/api/chart", chart),
            Route("/api/fail", fail),
            Route("/api/items", items, methods=["POST"]),
            Route("/api/login", login, methods=["POST"]),
            Route("/api/me", me),
            Route("/api/writes", writes),
        ]
    )
    app.state.chart_broken = chart_broken
    app.state.writes = 0
    return app


app = make_app()
