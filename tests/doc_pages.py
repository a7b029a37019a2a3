"""The pages of docs/ and the README, read into the blocks their tests execute.

A fenced block preceded by ``<!-- file: NAME -->`` is a file of the page's example project; its
``<!-- args: ... -->`` comment gives the pytest arguments and ``<!-- expect: passed=N, skipped=N -->``
the outcomes.  Every ```toml block must be a valid config, every ```yaml block must parse, and every
```python block that is a whole module with a function in it must pass ``mypy --strict``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DOCS = Path(__file__).parent.parent / "docs"
PAGES = sorted(DOCS.rglob("*.md"))  # docs/examples/ too
README = DOCS.parent / "README.md"

_BLOCK = re.compile(r"(?:<!--\s*file:\s*(?P<file>\S+)\s*-->\s*\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)
_ARGS = re.compile(r"<!--\s*args:\s*(?P<args>.*?)\s*-->")
_EXPECT = re.compile(r"<!--\s*expect:\s*(?P<expect>.*?)\s*-->")


@dataclass
class Page:
    """What a page holds for its tests: its example project, and its Python, TOML and YAML blocks."""

    files: dict[str, str] = field(default_factory=dict)
    python: list[tuple[str | None, str]] = field(default_factory=list)  # (file name or None, body)
    toml: list[str] = field(default_factory=list)
    yaml: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    expect: dict[str, int] = field(default_factory=dict)


def read_page(path: Path) -> Page:
    """The blocks and comments of the page at *path*."""
    text = path.read_text(encoding="utf-8")
    page = Page()
    for match in _BLOCK.finditer(text):
        if match["lang"] == "python":
            page.python.append((match["file"], match["body"]))
        if match["file"]:
            page.files[match["file"]] = match["body"]
        elif match["lang"] == "toml":
            page.toml.append(match["body"])
        elif match["lang"] in ("yaml", "yml"):
            page.yaml.append(match["body"])
    if args := _ARGS.search(text):
        page.args = args["args"].split()
    if expect := _EXPECT.search(text):
        for part in expect["expect"].split(","):
            key, _, value = part.strip().partition("=")
            page.expect[key] = int(value)
    return page


def fenced_blocks(path: Path, lang: str, *, after: str = "") -> list[str]:
    """The bodies of the page's fenced blocks in *lang* (```json, ```python, ...), in page order.

    With *after* (a heading such as ``"## Extending a target"``), only the blocks that follow it.
    """
    text = path.read_text(encoding="utf-8")
    if after:
        text = text.split(after, 1)[1]
    return [match["body"] for match in _BLOCK.finditer(text) if match["lang"] == lang]
