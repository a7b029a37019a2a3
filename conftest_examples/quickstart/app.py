"""A tiny stand-in service for the quickstart: health with a version, and a notes API."""

from __future__ import annotations

import itertools
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

VERSION = os.environ.get("APP_VERSION", "1.4.0")
NOTES: dict[int, dict[str, object]] = {}
IDS = itertools.count(1)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": VERSION})


async def notes(request: Request) -> Response:
    if request.method == "POST":
        body = await request.json()
        note = {"id": next(IDS), "text": str(body.get("text", ""))}
        NOTES[int(note["id"])] = note  # type: ignore[arg-type]  # id is an int by construction
        return JSONResponse(note, status_code=201)
    return JSONResponse(list(NOTES.values()))


async def note(request: Request) -> Response:
    found = NOTES.get(int(request.path_params["note_id"]))
    if found is None:
        return JSONResponse({"detail": "not found"}, status_code=404)
    return JSONResponse(found)


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/api/notes", notes, methods=["GET", "POST"]),
        Route("/api/notes/{note_id:int}", note),
    ]
)
