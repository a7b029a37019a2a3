"""The examples in docs/ are executed: TOML blocks are validated, file blocks are run.

A fenced block preceded by ``<!-- file: NAME -->`` is written into a fresh project; a page
with such blocks is run with the arguments of its ``<!-- args: ... -->`` comment plus
``--deploy-base-url`` pointing at the stand-in service, and must give the outcomes of its
``<!-- expect: passed=N, skipped=N -->`` comment.  Every ```toml block must be a valid config.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_deploysmoke.config import parse_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DOCS = Path(__file__).parent.parent / "docs"
PAGES = sorted(DOCS.glob("*.md"))
README = DOCS.parent / "README.md"

_BLOCK = re.compile(r"(?:<!--\s*file:\s*(?P<file>\S+)\s*-->\s*\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)
_ARGS = re.compile(r"<!--\s*args:\s*(?P<args>.*?)\s*-->")
_EXPECT = re.compile(r"<!--\s*expect:\s*(?P<expect>.*?)\s*-->")


@dataclass
class Page:
    files: dict[str, str] = field(default_factory=dict)
    toml: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    expect: dict[str, int] = field(default_factory=dict)


def read_page(path: Path) -> Page:
    text = path.read_text(encoding="utf-8")
    page = Page()
    for match in _BLOCK.finditer(text):
        if match["file"]:
            page.files[match["file"]] = match["body"]
        elif match["lang"] == "toml":
            page.toml.append(match["body"])
    if args := _ARGS.search(text):
        page.args = args["args"].split()
    if expect := _EXPECT.search(text):
        for part in expect["expect"].split(","):
            key, _, value = part.strip().partition("=")
            page.expect[key] = int(value)
    return page


def test_every_capability_page_exists() -> None:
    """The pages the README links to are there."""
    names = {p.name for p in PAGES}
    assert {"configuration.md", "targets.md", "phases.md", "guard.md", "ci.md", "errors.md"} <= names


@pytest.mark.parametrize("path", [*PAGES, README], ids=[p.name for p in [*PAGES, README]])
def test_toml_examples_are_valid_config(path: Path) -> None:
    """Every TOML example is a configuration the plugin accepts."""
    for block in read_page(path).toml:
        data = tomllib.loads(block)
        if "tool" in data:  # a pyproject.toml example
            data = data["tool"].get("deploysmoke", {})
            if not data:
                continue
        parse_config(data, path)


RUNNABLE = [p for p in PAGES if read_page(p).files]


@pytest.mark.parametrize("path", RUNNABLE, ids=[p.name for p in RUNNABLE])
def test_file_examples_run(path: Path, pytester: pytest.Pytester, standin_url: str) -> None:
    """A page's example project runs against the stand-in with the outcomes the page states."""
    page = read_page(path)
    assert page.expect, f"{path.name} has file blocks but no <!-- expect: ... --> comment"
    for name, body in page.files.items():
        (pytester.path / name).write_text(body, encoding="utf-8")
    result = pytester.runpytest(*page.args, f"--deploy-base-url={standin_url}")
    result.assert_outcomes(**page.expect)
