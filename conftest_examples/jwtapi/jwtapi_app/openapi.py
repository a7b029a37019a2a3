"""The API's OpenAPI 3 document, and the Swagger UI and ReDoc pages that render it."""

from __future__ import annotations

from typing import Any

OPENAPI_URL = "/openapi.json"
SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"
REDOC = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"

_ERROR = {"$ref": "#/components/schemas/Error"}
_UNAUTHORIZED = {
    "description": "Missing, expired or invalid bearer token",
    "content": {"application/json": {"schema": _ERROR}},
}
_BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
_MENTOR_LIST = {"type": "array", "items": {"$ref": "#/components/schemas/Mentor"}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


PATHS: dict[str, dict[str, Any]] = {
    "/health": {
        "get": {
            "summary": "Readiness: version, and the state of the database and Redis",
            "operationId": "health",
            "responses": {
                "200": _json("Every dependency answers", {"$ref": "#/components/schemas/Health"}),
                "503": _json("A dependency is down", {"$ref": "#/components/schemas/Health"}),
            },
        }
    },
    "/api/v1/auth/login": {
        "post": {
            "summary": "Sign in and get an access token",
            "operationId": "login",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Login"}}},
            },
            "responses": {
                "200": _json("Signed in", {"$ref": "#/components/schemas/Token"}),
                "401": _json("Wrong email or password", _ERROR),
                "422": _json("Malformed request", _ERROR),
            },
        }
    },
    "/api/v1/me": {
        "get": {
            "summary": "The signed-in account",
            "operationId": "me",
            "security": _BEARER,
            "responses": {"200": _json("The account", {"$ref": "#/components/schemas/Account"}), "401": _UNAUTHORIZED},
        }
    },
    "/api/v1/mentors": {
        "get": {
            "summary": "The mentor directory",
            "operationId": "listMentors",
            "security": _BEARER,
            "responses": {"200": _json("Every mentor", _MENTOR_LIST), "401": _UNAUTHORIZED},
        }
    },
    "/api/v1/mentors/search": {
        "get": {
            "summary": "Search mentors by name, headline or expertise (rate-limited per client)",
            "operationId": "searchMentors",
            "security": _BEARER,
            "parameters": [{"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "200": _json("Matching mentors", _MENTOR_LIST),
                "401": _UNAUTHORIZED,
                "429": {
                    "description": "Too many searches; retry after the number of seconds in Retry-After",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                },
            },
        }
    },
    "/api/v1/mentors/{mentor_id}": {
        "get": {
            "summary": "One mentor's profile",
            "operationId": "getMentor",
            "security": _BEARER,
            "parameters": [{"name": "mentor_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {
                "200": _json("The mentor", {"$ref": "#/components/schemas/Mentor"}),
                "401": _UNAUTHORIZED,
                "404": _json("No such mentor", _ERROR),
            },
        }
    },
}

COMPONENTS: dict[str, Any] = {
    "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    "schemas": {
        "Error": {"type": "object", "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
        "Health": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["ok", "degraded"]},
                "version": {"type": "string"},
                "dependencies": {
                    "type": "object",
                    "properties": {"database": {"type": "string"}, "redis": {"type": "string"}},
                },
            },
        },
        "Login": {
            "type": "object",
            "required": ["email", "password"],
            "properties": {
                "email": {"type": "string", "format": "email"},
                "password": {"type": "string", "format": "password"},
                "expires_in": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 3600,
                    "description": "Ask for a shorter-lived token, in seconds (default and maximum 3600)",
                },
            },
        },
        "Token": {
            "type": "object",
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"type": "string", "enum": ["bearer"]},
                "expires_in": {"type": "integer"},
            },
        },
        "Account": {"type": "object", "properties": {"id": {"type": "integer"}, "email": {"type": "string"}}},
        "Mentor": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "headline": {"type": "string"},
                "expertise": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}


def document(version: str, *, drop_paths: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The OpenAPI 3.1 document of this version of the API, without *drop_paths*."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mentoring API", "version": version},
        "paths": {path: item for path, item in PATHS.items() if path not in drop_paths},
        "components": COMPONENTS,
    }


def swagger_ui_page(title: str) -> str:
    """The Swagger UI page (as FastAPI serves at /docs), rendering the document at OPENAPI_URL."""
    return f"""<!doctype html>
<html><head><title>{title} - Swagger UI</title>
<link rel="stylesheet" href="{SWAGGER_UI}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{SWAGGER_UI}/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: '{OPENAPI_URL}', dom_id: '#swagger-ui'}})</script>
</body></html>
"""


def redoc_page(title: str) -> str:
    """The ReDoc page (as FastAPI serves at /redoc), rendering the document at OPENAPI_URL."""
    return f"""<!doctype html>
<html><head><title>{title} - ReDoc</title></head>
<body><redoc spec-url="{OPENAPI_URL}"></redoc>
<script src="{REDOC}"></script>
</body></html>
"""
