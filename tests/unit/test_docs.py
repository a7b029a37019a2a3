"""The docs' TOML and YAML examples: each TOML block is a valid config, each YAML block parses."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_deploysmoke.config.parse import parse_config
from pytest_deploysmoke.faults.rules import parse_rules
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
    """Every TOML example is a configuration the plugin accepts, or a rules file the rehearsal proxy takes."""
    for block in read_page(path).toml:
        data = tomllib.loads(block)
        if "fault" in data:  # docs/rehearse.md's rules files
            assert parse_rules(data, path.name)
            continue
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
