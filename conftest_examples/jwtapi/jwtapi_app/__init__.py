"""jwtapi: a stand-in of a mentoring service API behind JWT auth, for the pytest-deploysmoke example."""

from __future__ import annotations
