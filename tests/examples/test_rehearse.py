"""docs/rehearse.md, run: the page's command and each of its rules files, against the quickstart through the proxy.

Every HTTP rules file on the page must fire and end the quickstart suite's run NO-GO or ROLLBACK;
no fault at all must be GO.  The page's stream rules: tests/plugin/test_fault_proxy.py.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_deploysmoke.faults.rules import parse_rules
from tests.doc_pages import DOCS, fenced_blocks
from tests.fix_examples import replace_budgets
from tests.fix_proxy import Rehearsal, rehearsal

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

PAGE = DOCS / "rehearse.md"
HTTP_RULES = [
    tomllib.loads(block) for block in fenced_blocks(PAGE, "toml") if "[[fault]]" in block and "WS " not in block
]


def loosen(project: Path) -> None:
    replace_budgets(project / "test_smoke.py", ('budget="500ms"', 'budget="10s"'))


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory, mitm_confdir: Path) -> Iterator[Rehearsal]:
    workdir = tmp_path_factory.mktemp("rehearse")
    with rehearsal("quickstart", workdir, {"RELEASE_VERSION": "1.4.0"}, mitm_confdir, prepare=loosen) as quickstart:
        yield quickstart


def run_as_the_page_does(quickstart: Rehearsal, rules: dict[str, Any]) -> str:
    """``pytest --deploy-target=staging --deploy-base-url=PROXY -m smoke`` with *rules*; the decision and why."""
    tables = rules.get("fault", [])
    assert len(parse_rules(rules, PAGE.name)) == len(tables)
    outcome = quickstart.run(*tables, target="staging", args=(f"--deploy-base-url={quickstart.proxy.url}",))
    assert "staging" in outcome.summary["target"]["name"]
    return outcome.decision + "\n" + outcome.explain()


def test_the_page_shows_its_rules() -> None:
    assert len(HTTP_RULES) >= 3


def test_no_fault_is_go(quickstart: Rehearsal) -> None:
    decision = run_as_the_page_does(quickstart, {})
    assert decision.startswith("GO\n"), decision


@pytest.mark.parametrize("rules", HTTP_RULES, ids=[rules["fault"][0]["name"] for rules in HTTP_RULES])
def test_each_rules_file_on_the_page_fires_and_is_caught(quickstart: Rehearsal, rules: dict[str, Any]) -> None:
    decision = run_as_the_page_does(quickstart, rules)
    assert decision.startswith(("NO-GO\n", "ROLLBACK\n")), decision
