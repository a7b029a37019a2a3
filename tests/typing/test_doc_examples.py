"""The docs' Python examples under ``mypy --strict``, as a user's suite is checked; a misspelt keyword fails."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.doc_pages import DOCS, PAGES, README, read_page

_DEFINES = re.compile(r"^(?:async )?def ", re.M)
_CHECK_OR_HOOK = re.compile(r"^(?:async )?def (?:test_|pytest_)", re.M)


def is_module(name: str | None, body: str) -> bool:
    """Whether a Python example is a whole module (a file, or it starts with its imports), not an excerpt."""
    return (name or "").endswith(".py") or body.startswith(("import ", "from "))


def typed_examples() -> dict[str, tuple[str, str]]:
    """The examples mypy checks, by module name: ``http_2`` is the second Python block of http.md."""
    examples = {}
    for path in [*PAGES, README]:
        for number, (name, body) in enumerate(read_page(path).python, 1):
            if is_module(name, body) and _DEFINES.search(body):
                where = f"{path.relative_to(DOCS.parent)}, Python block {number}"
                examples[f"{path.stem.replace('-', '_')}_{number}"] = (where, body)
    return examples


TYPED = typed_examples()
MISSPELT_KEYWORD = """from pytest_deploysmoke import SmokeClient


def test_search(http: SmokeClient) -> None:
    http.get("/search", parms={"q": "smoke"})
"""


def test_examples_with_checks_are_whole_modules() -> None:
    """Every Python example that defines a check or a hook is a whole module, so mypy checks it."""
    excerpts = [
        f"{path.relative_to(DOCS.parent)}: {body.splitlines()[0]}"
        for path in [*PAGES, README]
        for name, body in read_page(path).python
        if _CHECK_OR_HOOK.search(body) and not is_module(name, body)
    ]
    assert excerpts == []


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Run ``mypy --strict`` once on the typed examples and on a check with a misspelt keyword; the errors by module."""
    folder = tmp_path_factory.mktemp("typed_examples")
    sources = {**{module: body for module, (_, body) in TYPED.items()}, "misspelt_keyword": MISSPELT_KEYWORD}
    for module, body in sources.items():
        (folder / f"{module}.py").write_text(body, encoding="utf-8")
    # The checkout is installed in editable mode through an import hook, which mypy does not follow.
    env = {**os.environ, "MYPYPATH": str(DOCS.parent)}
    command = [sys.executable, "-m", "mypy", "--strict", "--python-version=3.10", "--config-file="]
    command += ["--no-error-summary", "--cache-dir", str(folder / ".mypy_cache"), *(f"{m}.py" for m in sources)]
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 2: mypy could not run
    errors: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        module, _, rest = line.partition(".py:")
        if module in sources and ": error: " in rest:
            errors.setdefault(module, []).append(f"{module}.py:{rest}")
    return errors


def test_python_examples_pass_mypy_strict(mypy_errors: dict[str, list[str]]) -> None:
    """The Python examples of the docs and the README type-check under ``mypy --strict``."""
    assert len(TYPED) >= 25  # the README's quick start and the checks of every page
    failing = {TYPED[module][0]: lines for module, lines in mypy_errors.items() if module in TYPED}
    assert failing == {}


def test_misspelt_client_keyword_is_a_type_error(mypy_errors: dict[str, list[str]]) -> None:
    """``http.get("/search", parms=...)`` is a mypy error that names the keyword it meant."""
    assert mypy_errors["misspelt_keyword"] == [
        'misspelt_keyword.py:5: error: Unexpected keyword argument "parms" for "get" of "SmokeClient"; '
        'did you mean "params"?  [call-arg]'
    ]
