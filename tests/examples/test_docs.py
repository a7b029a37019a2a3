"""The example projects in docs/ are run: each page's file blocks, against the stand-in.

A fenced block preceded by ``<!-- file: NAME -->`` is written into a fresh project; a page
with such blocks is run with the arguments of its ``<!-- args: ... -->`` comment plus
``--deploy-base-url`` pointing at the stand-in service, and must give the outcomes of its
``<!-- expect: passed=N, skipped=N -->`` comment.  The TOML and YAML blocks: tests/unit/test_docs.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doc_pages import DOCS, PAGES, read_page

#: The recipes run against their own real framework: tests/examples/test_recipes.py.
RECIPES = DOCS / "recipes"
RUNNABLE = [p for p in PAGES if read_page(p).files and RECIPES not in p.parents]


@pytest.mark.parametrize("path", RUNNABLE, ids=[p.name for p in RUNNABLE])
def test_file_examples_run(path: Path, pytester: pytest.Pytester, standin_url: str) -> None:
    """A page's example project runs against the stand-in with the outcomes the page states."""
    page = read_page(path)
    assert page.expect, f"{path.name} has file blocks but no <!-- expect: ... --> comment"
    for name, body in page.files.items():
        (pytester.path / name).write_text(body, encoding="utf-8")
    result = pytester.runpytest(*page.args, f"--deploy-base-url={standin_url}")
    result.assert_outcomes(**page.expect)
