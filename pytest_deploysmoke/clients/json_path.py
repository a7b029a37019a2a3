"""Following a dotted path (``data.token``, ``items.0.id``) into parsed JSON (no pytest, no httpx)."""

from __future__ import annotations

from typing import Any


def dig(document: Any, dotted: str) -> Any:
    """The value at *dotted* in *document*: keys of objects, indexes of arrays; None when absent."""
    current = document
    for part in dotted.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current
