"""The examples in docs/ are executed: TOML blocks are validated, file blocks are run.

A fenced block preceded by ``<!-- file: NAME -->`` is written into a fresh project; a page
with such blocks is run with the arguments of its ``<!-- args: ... -->`` comment plus
``--deploy-base-url`` pointing at the stand-in service, and must give the outcomes of its
``<!-- expect: passed=N, skipped=N -->`` comment.  Every ```toml block must be a valid config.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_deploysmoke.config.parse import parse_config
from tests.doc_pages import DOCS, PAGES, README, read_page

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


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


WITH_YAML = [p for p in PAGES if read_page(p).yaml]


@pytest.mark.parametrize("path", WITH_YAML, ids=[p.name for p in WITH_YAML])
def test_yaml_examples_parse(path: Path) -> None:
    """Every YAML example (the CI recipes) parses, and each is a mapping of jobs."""
    import yaml

    for block in read_page(path).yaml:
        assert isinstance(yaml.safe_load(block), dict)


def test_ci_recipes_upload_every_artifact() -> None:
    """The GitHub Actions and GitLab CI recipes run the smoke suite and keep all four artifacts."""
    import yaml

    blocks = [yaml.safe_load(block) for block in read_page(DOCS / "ci.md").yaml]
    gitlab = next(b["smoke-prod"] for b in blocks if "smoke-prod" in b and "script" in b["smoke-prod"])
    github = next(b["jobs"]["smoke-prod"] for b in blocks if "jobs" in b)
    assert any("--deploy-target=prod" in line for line in gitlab["script"])
    assert set(gitlab["artifacts"]["paths"]) == {"smoke.html", "smoke.xml", "smoke-ticket.md", "smoke.json"}
    upload = next(step for step in github["steps"] if str(step.get("uses", "")).startswith("actions/upload-artifact"))
    assert set(upload["with"]["path"].split()) == {"smoke.html", "smoke.xml", "smoke-ticket.md", "smoke.json"}


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
