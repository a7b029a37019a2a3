"""The notes service: ``POST /token`` (OAuth2 password form), ``GET /users/me``, ``GET /notes``, ``GET /health``.

Its health check answers ``true`` and its version is only in the OpenAPI document (``info.version``),
as FastAPI services usually have it.  Settings come from the environment: ``DATABASE_URL``,
``APP_VERSION``, and the smoke account ``SMOKE_USER`` / ``SMOKE_PASSWORD``.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from sqlalchemy import text
from sqlmodel import Field, Session, SQLModel, create_engine, select

VERSION = os.environ.get("APP_VERSION", "1.4.0")
SMOKE_USER = os.environ.get("SMOKE_USER", "smoke")
SMOKE_PASSWORD = os.environ["SMOKE_PASSWORD"]
engine = create_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))
tokens: dict[str, str] = {}  # access token -> username; a real service signs JWTs


class Note(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str
    owner: str


app = FastAPI(title="Notes", version=VERSION)
oauth2 = OAuth2PasswordBearer(tokenUrl="token")


def db() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


def current_user(token: Annotated[str, Depends(oauth2)]) -> str:
    user = tokens.get(token)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid token", {"WWW-Authenticate": "Bearer"})
    return user


@app.get("/health")
def health(session: Annotated[Session, Depends(db)]) -> bool:
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return True


@app.post("/token")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
    if form.username != SMOKE_USER or not hmac.compare_digest(form.password, SMOKE_PASSWORD):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Incorrect username or password")
    token = secrets.token_urlsafe(24)
    tokens[token] = form.username
    return {"access_token": token, "token_type": "bearer"}


@app.get("/users/me")
def me(user: Annotated[str, Depends(current_user)]) -> dict[str, str]:
    return {"username": user}


@app.get("/notes")
def notes(user: Annotated[str, Depends(current_user)], session: Annotated[Session, Depends(db)]) -> list[Note]:
    return list(session.exec(select(Note).where(Note.owner == user)))
