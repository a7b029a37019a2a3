"""fileapi: a stand-in of a file upload and download API, for the pytest-deploysmoke example."""

from __future__ import annotations
