"""API docs: /docs, /redoc and /openapi.json are served, and the document covers what the suite checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest
from mentoring_api import CHECKED_ENDPOINTS

from pytest_deploysmoke import expect_json, expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http

pytestmark = pytest.mark.phase("docs")

OPENAPI_URL = "/openapi.json"


# Named predicates: expect_json's failures name the one that did not hold.
def is_openapi_3(value: object) -> bool:
    return isinstance(value, str) and value.startswith("3.")


def is_text(value: object) -> bool:
    return isinstance(value, str) and value != ""


def is_object(value: object) -> bool:
    return isinstance(value, dict)


def expect_html_page(response: httpx.Response, *mentions: str) -> None:
    """Fail unless *response* is an HTML page that mentions each of *mentions*."""
    __tracebackhide__ = True
    what = f"GET {response.request.url.path} answered {response.status_code}"
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/html"):
        pytest.fail(f"{what} with Content-Type {content_type or '(none)'}, expected text/html", pytrace=False)
    missing = [mention for mention in mentions if mention not in response.text]
    if missing:
        pytest.fail(f"{what}, a page that does not mention {', '.join(missing)}; is it the docs page?", pytrace=False)


def openapi_document(http: SmokeClient) -> dict[str, Any]:
    document: dict[str, Any] = expect_json(expect_status(http.get(OPENAPI_URL), 200))
    return document


def test_swagger_ui_is_served(http: SmokeClient) -> None:
    """/docs serves the Swagger UI for /openapi.json."""
    expect_html_page(expect_status(http.get("/docs"), 200), "swagger-ui", OPENAPI_URL)


def test_redoc_is_served(http: SmokeClient) -> None:
    """/redoc serves ReDoc for /openapi.json."""
    expect_html_page(expect_status(http.get("/redoc"), 200), "redoc", OPENAPI_URL)


def test_openapi_is_an_openapi_3_document(http: SmokeClient) -> None:
    """/openapi.json is a valid OpenAPI 3 document: an openapi version 3.x, info with title and version, paths."""
    response = expect_status(http.get(OPENAPI_URL), 200)
    expect_json(response, {"openapi": is_openapi_3, "info": {"title": is_text, "version": is_text}, "paths": is_object})


def test_openapi_documents_every_checked_endpoint(http: SmokeClient) -> None:
    """/openapi.json documents every endpoint this smoke suite checks."""
    paths = openapi_document(http).get("paths") or {}
    missing = []
    for endpoint in CHECKED_ENDPOINTS:
        method, _, path = endpoint.partition(" ")
        item = paths.get(path)
        if not isinstance(item, dict) or method.lower() not in item:
            missing.append(endpoint)
    if missing:
        pytest.fail(
            f"GET {OPENAPI_URL} does not document {', '.join(missing)} (it has {len(paths)} paths: "
            f"{', '.join(sorted(paths)) or 'none'}); document every endpoint the API serves, "
            "or take the endpoint out of CHECKED_ENDPOINTS in mentoring_api.py",
            pytrace=False,
        )
