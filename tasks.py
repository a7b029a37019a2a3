"""The project's two entry points: ``python tasks.py demo`` and ``python tasks.py test``.

Each one does every install step itself: it creates ``.venv`` with the running Python,
installs the project with the extras it needs, then runs pytest inside that environment.
Extra arguments after the task name go to pytest.  ``test`` also installs (when missing),
starts and stops a real PostgreSQL, Redis and Prometheus Pushgateway on loopback for the run: see
tools/devservices.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
REPORTS = ROOT / "reports"
#: mitmproxy, for the fault-injection tests, in an environment of its own: its pinned dependencies
#: stay out of the project's, and it runs as its own process anyway (tests/fix_proxy.py).
MITM_VENV = ROOT / ".venv-mitmproxy"
MITMDUMP = MITM_VENV / ("Scripts" if os.name == "nt" else "bin") / "mitmdump"
MITMPROXY_REQUIREMENT = "mitmproxy>=11,<13"  # pip picks 11.x on Python 3.10-3.11, 12.x on 3.12+


def ensure_env(extras: str) -> None:
    """Create .venv and install the project with *extras*, unless already done for this pyproject."""
    if not PYTHON.exists():
        print(f"tasks: creating {VENV.relative_to(ROOT)}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    fingerprint = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / f".installed-{extras}"
    if stamp.exists() and stamp.read_text() == fingerprint:
        return
    print(f"tasks: installing pytest-deploysmoke[{extras}] into .venv", flush=True)
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f".[{extras}]"])
    stamp.write_text(fingerprint)


def ensure_mitmproxy() -> None:
    """Create .venv-mitmproxy with mitmproxy in it, unless already done for this requirement."""
    stamp = MITM_VENV / ".installed"
    if MITMDUMP.exists() and stamp.exists() and stamp.read_text() == MITMPROXY_REQUIREMENT:
        return
    print(f"tasks: installing {MITMPROXY_REQUIREMENT} into {MITM_VENV.relative_to(ROOT)}", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(MITM_VENV)
    python = MITMDUMP.parent / "python"
    run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([str(python), "-m", "pip", "install", "--quiet", MITMPROXY_REQUIREMENT])
    stamp.write_text(MITMPROXY_REQUIREMENT)


def run(argv: list[str]) -> None:
    """Run *argv* from the project root; exit with its code when it fails."""
    code = subprocess.call(argv, cwd=ROOT)
    if code != 0:
        sys.exit(code)


def demo(args: list[str]) -> int:
    """Smoke-check the kifu stand-in on a real PostgreSQL and Redis, and write the reports.

    Starts throwaway servers (tools/devservices.py), lets the suite's ``local`` target launch the
    stand-in against them, runs ``pytest conftest_examples/kifu --deploy-target=local -m smoke``
    and says where the reports are.  Everything is stopped at the end.
    """
    from tools import devservices  # POSIX only (runuser, process groups): loaded for the tasks that need servers

    ensure_env("demo,ui,compare")  # the ui phase runs in Debian's chromium; the comparison needs scipy
    REPORTS.mkdir(exist_ok=True)
    html, junit = REPORTS / "kifu.html", REPORTS / "kifu.xml"
    ticket, summary = REPORTS / "kifu-ticket.md", REPORTS / "kifu.json"
    baseline = keep_as_baseline(summary, REPORTS / "kifu-previous.json")
    for stale in (html, junit, ticket, summary):  # so a report on disk is always this run's
        stale.unlink(missing_ok=True)
    argv = [
        str(PYTHON),
        "-m",
        "pytest",
        "conftest_examples/kifu",
        "--deploy-target=local",
        "-m",
        "smoke",
        f"--html={html}",
        "--self-contained-html",
        f"--junitxml={junit}",
        f"--deploy-ticket={ticket}",
        f"--deploy-json={summary}",
        # The checklist's manual items (conftest_examples/kifu/deploysmoke.toml): the required backup and the
        # frontend are confirmed, the environment review and the rollback plan stay open, to do by hand.
        "--deploy-confirm=backup=nothing to back up: the demo's database is a throwaway server",
        "--deploy-confirm=frontend=the stand-in serves the web app's screens",
        # The last demo's run, when it was a GO, is the baseline this one is judged against (docs/comparing.md).
        *([f"--deploy-baseline={baseline.relative_to(ROOT)}"] if baseline else []),
        *args,
    ]
    code = run_with_services(
        argv,
        lambda services: {
            "DATABASE_URL": services[devservices.DSN_VAR],
            "REDIS_URL": services[devservices.REDIS_URL_VAR],
        },
        browser=True,
    )
    if not html.exists():
        return code  # the run never got going; run_with_services or pytest said why
    print(
        f"tasks: the report is {html.relative_to(ROOT)}; the release-ticket checklist {ticket.relative_to(ROOT)}, "
        f"the JSON summary {summary.relative_to(ROOT)}, the JUnit XML {junit.relative_to(ROOT)}"
    )
    return code


def keep_as_baseline(summary: Path, previous: Path) -> Path | None:
    """Move the last demo's JSON summary to *previous* when that run was a GO, to judge this run against it.

    A summary of a run that did not end in GO is no baseline to hold a release to: it is left
    where it is, to be replaced by this run's, and the last good baseline (if any) is kept.
    """
    try:
        decision = json.loads(summary.read_text(encoding="utf-8"))["verdict"]["decision"]
    except (OSError, ValueError, KeyError, TypeError):
        decision = None
    if decision in ("GO", "GO with warnings"):
        summary.replace(previous)
    if previous.exists():
        print(f"tasks: judging this run against the last good demo run, {previous.relative_to(ROOT)}")
        return previous
    print("tasks: run the demo again to see this run as the baseline of the next one (docs/comparing.md)")
    return None


def run_with_services(
    argv: list[str], env_for: Callable[[dict[str, str]], dict[str, str]], *, browser: bool = False
) -> int:
    """Run *argv* with throwaway PostgreSQL, Redis and Pushgateway (installed when missing), stopped afterwards.

    *env_for* turns the servers' variables into the environment the command needs.
    """
    from tools import devservices  # POSIX only (runuser, process groups): loaded for the tasks that need servers

    try:
        devservices.ensure_packages(browser=browser)
        with devservices.running_services() as services:
            return subprocess.call(argv, cwd=ROOT, env={**os.environ, **env_for(services)})
    except devservices.ServiceError as exc:
        print(f"tasks: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tasks: interrupted; the servers are stopped", file=sys.stderr)
        return 130


def test(args: list[str]) -> int:
    """Run the whole test suite against real PostgreSQL, Redis and Pushgateway on loopback.

    The servers, and Chromium for the HTML report tests, are installed with apt when missing
    (as root); the servers are started for this run only and stopped afterwards (see
    tools/devservices.py).  mitmproxy, the fault-injecting proxy, goes into .venv-mitmproxy.
    pytest's exit code 5 (no tests ran) is a failure too.
    """

    ensure_env("dev")
    ensure_mitmproxy()
    code = run_with_services(
        [str(PYTHON), "-m", "pytest", *parallel(args), *args],
        lambda services: {**services, "DEPLOYSMOKE_MITMDUMP": str(MITMDUMP)},
        browser=True,
    )
    if code == 5:
        print("tasks: pytest collected no tests; that is a failure", file=sys.stderr)
    return code


def parallel(args: list[str]) -> list[str]:
    """pytest-xdist's options for the whole suite: one worker per core, up to 4, unless *args* choose.

    Most of the suite's time is waiting on servers and subprocess runs, so two workers on two
    cores take about two thirds of the serial time.  ``-n 0`` runs it serially.
    """
    chosen = any(arg.startswith(("-n", "--numprocesses", "--dist")) or "no:xdist" in arg for arg in args)
    return [] if chosen else ["--numprocesses=auto", "--maxprocesses=4"]


TASKS = {"demo": demo, "test": test}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TASKS:
        print(f"usage: python tasks.py {{{','.join(TASKS)}}} [pytest args...]", file=sys.stderr)
        return 2
    return TASKS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
