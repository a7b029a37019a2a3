"""The recipes of docs/recipes/ run against the real frameworks on loopback.

Each page's files (``deploysmoke.toml``, ``test_notes.py``) are written next to a copy of its
service (tests/apps/recipes/): a FastAPI app on SQLModel with Alembic, and a Django project.  The
service is migrated with its own tool and served by uvicorn, as a deploy is; the suite then runs
against it as ``staging`` and as ``prod``: no conftest.py, no fixture of the plugin overridden.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from tests.doc_pages import DOCS, read_page
from tests.fix_servers import APPS, free_port, start_standin, stop_process

SMOKE_PASSWORD = "smoke-Pw-recipe-4711-zq"
FASTAPI_HEAD, FASTAPI_FIRST = "b7c8d9e0f1a2", "a1b2c3d4e5f6"


def url_of(conninfo: str) -> str:
    """The ``postgresql://`` URL of a psycopg conninfo: the form services read from DATABASE_URL."""
    parts = psycopg.conninfo.conninfo_to_dict(conninfo)
    password = quote(str(parts.get("password", "")), safe="")
    return f"postgresql://{parts['user']}:{password}@{parts['host']}:{parts['port']}/{parts['dbname']}"


@dataclass
class Recipe:
    """A recipe page's files written into a copy of its service, and how to deploy and check that service."""

    pytester: pytest.Pytester
    monkeypatch: pytest.MonkeyPatch
    app: str  # the ASGI app, for uvicorn
    env: dict[str, str]  # the service's and its tools' environment

    def manage(self, *args: str) -> None:
        """Run a tool of the service (alembic, manage.py) as its deploy would; fail with its output."""
        done = subprocess.run(
            [sys.executable, *args], cwd=self.pytester.path, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{' '.join(args)} failed: {done.stdout}{done.stderr}"

    def run(self, *, serving: str, release: str, target: str, args: tuple[str, ...] = ()) -> Run:
        """Serve the service as version *serving*; run the page's suite on *target* expecting *release*."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port", str(port)]
        root = self.pytester.path
        process = start_standin(argv, root, {**self.env, "APP_VERSION": serving}, f"{url}/health", root / "app.log")
        try:
            for name in ("NOTES_STAGING_URL", "NOTES_PROD_URL"):
                self.monkeypatch.setenv(name, url)
            for name in ("STAGING_DATABASE_URL", "PROD_DATABASE_URL"):
                self.monkeypatch.setenv(name, self.env["DATABASE_URL"])
            self.monkeypatch.setenv("RELEASE_VERSION", release)
            self.monkeypatch.setenv("SMOKE_PASSWORD", SMOKE_PASSWORD)
            summary = root / "summary.json"
            result = self.pytester.runpytest_subprocess(
                "-m", "smoke", "-rfEs", f"--deploy-target={target}", f"--deploy-json={summary}", *args, timeout=180
            )
        finally:
            stop_process(process)
        assert summary.exists(), f"no summary (exit code {result.ret}): {result.stdout.str()}{result.stderr.str()}"
        document = json.loads(summary.read_text(encoding="utf-8"))
        assert SMOKE_PASSWORD not in result.stdout.str() + result.stderr.str() + json.dumps(document)
        return Run(result, document)


@dataclass
class Run:
    result: pytest.RunResult
    summary: dict[str, Any]

    @property
    def verdict(self) -> str:
        return str(self.summary["verdict"]["decision"])

    @property
    def outcomes(self) -> dict[str, str]:
        return {check["nodeid"]: check["outcome"] for check in self.summary["checks"]}


def copy_recipe(pytester: pytest.Pytester, service: str, page: str) -> None:
    """The service of tests/apps/recipes/*service*, with the files of docs/recipes/*page* in its root."""
    shutil.copytree(APPS / "recipes" / service, pytester.path, dirs_exist_ok=True)
    for name, body in read_page(DOCS / "recipes" / page).files.items():
        (pytester.path / name).write_text(body, encoding="utf-8")


# --------------------------------------------------------------------------- FastAPI


@pytest.fixture
def fastapi_notes(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fresh_db: str) -> Recipe:
    """The FastAPI recipe: SQLModel, Alembic, the OAuth2 password form login, the version in OpenAPI."""
    copy_recipe(pytester, "fastapi_notes", "fastapi.md")
    env = {**os.environ, "DATABASE_URL": url_of(fresh_db), "SMOKE_USER": "smoke", "SMOKE_PASSWORD": SMOKE_PASSWORD}
    return Recipe(pytester, monkeypatch, "notes_api.main:app", env)


@pytest.mark.parametrize("target", ["staging", "prod"])
def test_fastapi_recipe_is_green_on_a_good_deploy(fastapi_notes: Recipe, target: str) -> None:
    """Migrated to head and serving the release: every check passes, version and migrations by built-in checks."""
    fastapi_notes.manage("-m", "alembic", "upgrade", "head")
    run = fastapi_notes.run(serving="1.4.0", release="1.4.0", target=target)
    assert run.verdict == "GO", run.result.stdout.str()
    assert run.outcomes == {
        "deploysmoke::migrations": "passed",
        "deploysmoke::version": "passed",
        "test_notes.py::test_health_answers_true": "passed",
        "test_notes.py::test_users_me": "passed",
        "test_notes.py::test_notes_are_listed": "passed",
    }
    assert run.summary["versions"]["reported"] == "1.4.0"
    assert run.result.ret == 0


def test_fastapi_recipe_says_no_go_while_the_old_version_serves(fastapi_notes: Recipe) -> None:
    """The old release still answering: the version check fails the health gate, naming both versions."""
    fastapi_notes.manage("-m", "alembic", "upgrade", "head")
    run = fastapi_notes.run(serving="1.3.9", release="1.4.0", target="staging", args=("--deploy-wait=0",))
    assert run.verdict == "NO-GO"
    assert run.outcomes["deploysmoke::version"] == "failed"
    run.result.stdout.fnmatch_lines(["*1.4.0*1.3.9*openapi*"])
    assert run.result.ret == 1


def test_fastapi_recipe_waits_for_the_new_version_and_says_what_it_saw(fastapi_notes: Recipe) -> None:
    """wait_for_version with only the old release answering: not ready, with the last version seen."""
    fastapi_notes.manage("-m", "alembic", "upgrade", "head")
    run = fastapi_notes.run(serving="1.3.9", release="1.4.0", target="staging", args=("--deploy-wait=1",))
    assert run.verdict != "GO"
    run.result.stdout.fnmatch_lines(["*not ready*1.4.0*1.3.9*"])
    assert run.result.ret == 1


def test_fastapi_recipe_names_the_migration_that_did_not_run(fastapi_notes: Recipe) -> None:
    """The database one revision behind the scripts: the migrations check names the head and the revision found."""
    fastapi_notes.manage("-m", "alembic", "upgrade", FASTAPI_FIRST)
    run = fastapi_notes.run(serving="1.4.0", release="1.4.0", target="staging")
    assert run.verdict == "NO-GO"
    assert run.outcomes["deploysmoke::migrations"] == "failed"
    run.result.stdout.fnmatch_lines(
        [f"*alembic_version is at '{FASTAPI_FIRST}' but the head of alembic is '{FASTAPI_HEAD}'*"]
    )


def test_fastapi_recipe_with_a_json_login_names_the_form_body(fastapi_notes: Recipe) -> None:
    """The issue's first workaround: a JSON login to OAuth2PasswordRequestForm gets 422, and the hint names the fix."""
    fastapi_notes.manage("-m", "alembic", "upgrade", "head")
    toml = fastapi_notes.pytester.path / "deploysmoke.toml"
    written = 'body = "form"'
    assert written in toml.read_text(encoding="utf-8")
    toml.write_text(toml.read_text(encoding="utf-8").replace(written, 'body = "json"'), encoding="utf-8")
    run = fastapi_notes.run(serving="1.4.0", release="1.4.0", target="staging")
    assert run.verdict == "NO-GO"
    assert run.outcomes["test_notes.py::test_users_me"] == "failed"
    run.result.stdout.fnmatch_lines(["*POST /token*422*body = ?form?*"])


# --------------------------------------------------------------------------- Django


@pytest.fixture
def django_notes(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fresh_db: str) -> Recipe:
    """The Django recipe: LoginView with CSRF, django_migrations, X-App-Version from a middleware."""
    copy_recipe(pytester, "django_notes", "django.md")
    env = {**os.environ, "DATABASE_URL": url_of(fresh_db), "DJANGO_SETTINGS_MODULE": "notesite.settings"}
    return Recipe(pytester, monkeypatch, "notesite.asgi:application", env)


def deploy_django(django_notes: Recipe, *migrate_to: str) -> None:
    """``manage.py migrate`` (back to *migrate_to* when given), then the smoke account, as a deploy's seed."""
    django_notes.manage("manage.py", "migrate", "-v0")
    if migrate_to:
        django_notes.manage("manage.py", "migrate", "-v0", *migrate_to)
    create = (
        f"from django.contrib.auth.models import User; User.objects.create_user('smoke', password='{SMOKE_PASSWORD}')"
    )
    django_notes.manage("manage.py", "shell", "-c", create)


def test_django_recipe_is_green_on_staging(django_notes: Recipe) -> None:
    """Session login with CSRF, a note written with the CSRF header, version and migrations by built-in checks."""
    deploy_django(django_notes)
    run = django_notes.run(serving="3.2.0", release="3.2.0", target="staging")
    assert run.verdict == "GO", run.result.stdout.str()
    assert list(run.outcomes.values()) == ["passed"] * 7
    assert run.summary["versions"]["reported"] == "3.2.0"


def test_django_recipe_on_production_holds_the_write_back(django_notes: Recipe) -> None:
    """On prod the login passes the guard as the configured login; the destructive write is held back."""
    deploy_django(django_notes)
    run = django_notes.run(serving="3.2.0", release="3.2.0", target="prod")
    assert run.verdict == "GO", run.result.stdout.str()
    outcomes = run.outcomes
    assert outcomes.pop("test_notes.py::test_a_note_can_be_written") == "skipped"
    assert list(outcomes.values()) == ["passed"] * 6
    with psycopg.connect(django_notes.env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM notes_note").fetchone() == (0,)


def test_django_recipe_names_the_unapplied_migration(django_notes: Recipe) -> None:
    """One migration of the app not applied: the migrations check fails the run, naming it."""
    deploy_django(django_notes, "notes", "0001")
    run = django_notes.run(serving="3.2.0", release="3.2.0", target="staging")
    assert run.verdict == "NO-GO"
    assert run.outcomes["deploysmoke::migrations"] == "failed"
    run.result.stdout.fnmatch_lines(["*notes.0002_note_pinned*"])


def test_django_recipe_says_no_go_while_the_old_release_serves(django_notes: Recipe) -> None:
    """The old release's X-App-Version: the version check fails the health gate, naming both and the header."""
    deploy_django(django_notes)
    run = django_notes.run(serving="3.1.0", release="3.2.0", target="staging")
    assert run.verdict == "NO-GO"
    assert run.outcomes["deploysmoke::version"] == "failed"
    run.result.stdout.fnmatch_lines(["*3.2.0*3.1.0*X-App-Version*"])
