"""Clients: HTTP, Redis, WebSocket, PostgreSQL and browser access, each timed, recorded and guarded."""
