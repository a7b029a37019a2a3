"""The distribution: ``python -m build`` output, what it holds, and the wheel at work in a fresh venv.

The last test proves the README: it installs the wheel (nothing from the checkout) into a new
virtualenv, writes the README's quick-start files as they are printed, and runs the README's
command against a loopback ``/health`` and a real PostgreSQL database with the tables it checks.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

import psycopg
import pytest

from tests.fix_servers import socketserver_in_thread

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pytest_deploysmoke"
BUILD_TIMEOUT = 600  # seconds: build sets up two isolated environments (sdist, then wheel from it)
INSTALL_TIMEOUT = 900  # seconds: pip fetches every dependency by name into an empty venv
RUN_TIMEOUT = 300  # seconds: any other command

#: Local state that must never reach the sdist: at its top level, and anywhere in it.
LOCAL_TOP = {".venv", ".venv-mitmproxy", "reports", ".services", "build", "dist", ".git"}
LOCAL_ANYWHERE = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".fileapi-data"}


def run(
    argv: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run *argv* with a deadline; with *check*, fail the test with its output when it exits non-zero."""
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(
            f"{shlex.join(argv)} exited {result.returncode}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}",
            pytrace=False,
        )
    return result


@dataclass(frozen=True)
class Dist:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """The sdist and the wheel ``python -m build`` makes from the checkout (the wheel is built from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    # Built from a copy of the tracked files: setuptools writes its egg-info into the tree it builds,
    # and two builds of one tree at once (pytest-xdist workers) would trip over each other's.
    tree = tmp_path_factory.mktemp("source")
    for name in run(["git", "ls-files", "-z"], cwd=ROOT, timeout=RUN_TIMEOUT).stdout.split("\0"):
        if name and (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    run([sys.executable, "-m", "build", "--outdir", str(out), str(tree)], cwd=tree, timeout=BUILD_TIMEOUT)
    sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    assert len(sdists) == 1, sdists
    assert len(wheels) == 1, wheels
    return Dist(sdist=sdists[0], wheel=wheels[0])


def test_twine_check_accepts_sdist_and_wheel(dist: Dist) -> None:
    """``twine check --strict`` passes both files: metadata valid, README renders as Markdown."""
    result = run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dist.sdist), str(dist.wheel)],
        cwd=ROOT,
        timeout=RUN_TIMEOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_wheel_holds_the_package_its_data_and_the_pytest11_entry_point(dist: Dist) -> None:
    """Every module and data file of the package is in the wheel, and nothing of tests or examples."""
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
        dist_info = next(PurePosixPath(n).parts[0] for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_points = configparser.ConfigParser()
        entry_points.read_string(wheel.read(f"{dist_info}/entry_points.txt").decode())

    assert "pytest_deploysmoke/py.typed" in names
    assert "pytest_deploysmoke/schemas/summary-1.schema.json" in names
    # Modules in subpackages too: a package directory that setuptools did not find shows up here.
    source = {
        path.relative_to(ROOT).as_posix()
        for pattern in ("*.py", "py.typed", "*.schema.json")
        for path in PACKAGE.rglob(pattern)
        if "__pycache__" not in path.parts
    }
    assert source - names == set()
    assert {PurePosixPath(n).parts[0] for n in names} == {"pytest_deploysmoke", dist_info}
    assert dict(entry_points["pytest11"]) == {"deploysmoke": "pytest_deploysmoke.plugin"}


def test_sdist_holds_every_tracked_file_and_no_local_state(dist: Dist) -> None:
    """The sdist carries the whole tracked source (so tests and docs run from it), and no venv, cache or report."""
    tracked = run(["git", "ls-files", "-z"], cwd=ROOT, timeout=RUN_TIMEOUT).stdout.split("\0")
    present = {name for name in tracked if name and (ROOT / name).is_file()}  # not files deleted but unstaged
    with tarfile.open(dist.sdist) as sdist:
        members = {PurePosixPath(*PurePosixPath(m.name).parts[1:]) for m in sdist.getmembers() if m.isfile()}

    missing = sorted(present - {m.as_posix() for m in members})
    assert missing == [], "tracked files missing from the sdist: add them to MANIFEST.in"
    local = [
        m.as_posix()
        for m in members
        if m.parts[0] in LOCAL_TOP or LOCAL_ANYWHERE.intersection(m.parts) or m.suffix in (".pyc", ".pyo")
    ]
    assert local == []


# -- the README's quick start, from the wheel ------------------------------------------------------

_QUICK_START = re.compile(r"^## Quick start\n(?P<section>.*?)^## ", re.S | re.M)
_FILE_BLOCK = re.compile(r"`(?P<name>[\w.-]+)`[^\n`]*:\n\n```\w*\n(?P<body>.*?)```", re.S)
_COMMAND = re.compile(r"Run `(?P<command>[^`]*\bpytest\b[^`]*)`")


@dataclass(frozen=True)
class QuickStart:
    files: dict[str, str]
    env: dict[str, str]
    args: list[str]


def read_quick_start() -> QuickStart:
    """The files and the command of the README's "Quick start" section, as printed."""
    section = _QUICK_START.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert section, "README.md has no '## Quick start' section"
    files = {m["name"]: m["body"] for m in _FILE_BLOCK.finditer(section["section"])}
    command = _COMMAND.search(section["section"])
    assert command, "the Quick start section has no 'Run `... pytest ...`' command"
    words = shlex.split(command["command"])
    at = words.index("pytest")
    env = dict(word.split("=", 1) for word in words[:at])
    return QuickStart(files=files, env=env, args=words[at + 1 :])


@contextmanager
def serve_health(version: str) -> Iterator[str]:
    """A loopback service whose ``GET /health`` answers ``{"status": "ok", "version": version}``; yields its base URL."""
    body = json.dumps({"status": "ok", "version": version}).encode()

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/health":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # keep the test's output clean
            pass

    with socketserver_in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Health)) as url:
        yield url


def test_wheel_in_a_fresh_venv_runs_the_readme_quick_start(dist: Dist, fresh_db: str, tmp_path: Path) -> None:
    """The wheel alone, pip-installed into an empty venv, runs the README's quick start to GO with every check passed."""
    quick_start = read_quick_start()
    assert set(quick_start.files) == {"deploysmoke.toml", "test_smoke.py"}
    # The user's checks, and the built-in deploysmoke::migrations and deploysmoke::version the target adds.
    checks = len(re.findall(r"^def test_", quick_start.files["test_smoke.py"], re.M)) + 2
    # The environment of a user's shell: nothing of this test run, its venv or its plugin settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "DEPLOYSMOKE", "VIRTUAL_ENV"))}

    venv = tmp_path / "venv"
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, timeout=RUN_TIMEOUT, env=env)
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, str(dist.wheel)], cwd=tmp_path, timeout=INSTALL_TIMEOUT, env=env)

    project = tmp_path / "project"
    project.mkdir()
    for name, body in quick_start.files.items():
        (project / name).write_text(body, encoding="utf-8")
    imported = run(
        [str(bin_dir / "python"), "-c", "import pytest_deploysmoke; print(pytest_deploysmoke.__file__)"],
        cwd=project,
        timeout=RUN_TIMEOUT,
        env=env,
    )
    assert Path(imported.stdout.strip()).is_relative_to(venv), "the plugin must come from the wheel, not the checkout"

    # What the README's migration check looks for: column users.ai_allowlisted and table runs.
    with psycopg.connect(fresh_db, autocommit=True, connect_timeout=5) as conn:
        conn.execute("CREATE TABLE users (id serial PRIMARY KEY, ai_allowlisted boolean NOT NULL DEFAULT false)")
        conn.execute("CREATE TABLE runs (id serial PRIMARY KEY)")

    release = quick_start.env["RELEASE_VERSION"]
    with serve_health(release) as url:
        result = run(
            [str(bin_dir / "pytest"), *quick_start.args, f"--deploy-base-url={url}", "--deploy-json=summary.json"],
            cwd=project,
            timeout=RUN_TIMEOUT,
            env={**env, **quick_start.env, "DATABASE_URL": fresh_db},
            check=False,
        )

    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, output
    lines = result.stdout.splitlines()
    assert "deploysmoke verdict: GO" in lines, output
    assert re.fullmatch(rf"=+ {checks} passed in .* =+", lines[-1]), output
    summary = json.loads((project / "summary.json").read_text(encoding="utf-8"))
    wheel_version = dist.wheel.name.split("-")[1]
    assert summary["tool"] == {"name": "pytest-deploysmoke", "version": wheel_version}
    assert summary["verdict"]["decision"] == "GO"
    assert summary["selection"]["partial"] is False
    assert summary["versions"]["reported"] == release
    assert [(check["nodeid"], check["outcome"]) for check in summary["checks"]] == [
        ("deploysmoke::migrations", "passed"),
        ("deploysmoke::version", "passed"),
        ("test_smoke.py::test_health_answers_quickly", "passed"),
    ]
    assert len(summary["checks"]) == checks
