"""Fixture plugin: the rehearsal proxy (mitmdump with the fault addon) between a suite and its service.

``FaultProxy`` starts ``python -m pytest_deploysmoke.faults`` (which becomes mitmdump, same PID) on a
free loopback port, swaps its rules file between runs, reads its fired-fault log and stops it by PID.
``rehearsal()`` copies an example suite, starts its stand-in as the suite's own ``[launch]`` would
(the plugin's code), puts the proxy in front of it as a target ``proxied``, and runs the suite through it.

mitmproxy lives in ``.venv-mitmproxy`` (``python3 tasks.py test`` installs it and sets
``DEPLOYSMOKE_MITMDUMP``); a run without it fails the tests that need it, with what to do, and never skips.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from pytest_deploysmoke.config.parse import build_target, load_config
from pytest_deploysmoke.config.redaction import Redactor
from pytest_deploysmoke.faults.proxy import MITMDUMP_VAR, ProxyError, find_mitmdump
from pytest_deploysmoke.run import launch
from tests.fix_servers import free_port

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "conftest_examples"
#: Where ``python3 tasks.py test`` installs mitmproxy, when $DEPLOYSMOKE_MITMDUMP is not set.
DEFAULT_MITMDUMP = ROOT / ".venv-mitmproxy" / "bin" / "mitmdump"
#: The target the rehearsals add to a copied suite's config: its ``local`` target, through the proxy.
PROXIED = "proxied"
RUN_TIMEOUT = 300  # seconds for one suite run through the proxy


def mitmdump_path() -> str:
    """The mitmdump the tests run; fails (never skips) with what to do when there is none."""
    explicit = os.environ.get(MITMDUMP_VAR) or (str(DEFAULT_MITMDUMP) if DEFAULT_MITMDUMP.exists() else None)
    try:
        return find_mitmdump(explicit)
    except ProxyError as exc:
        pytest.fail(f"{exc}; `python3 tasks.py test` installs mitmproxy into .venv-mitmproxy", pytrace=False)


class FaultProxy:
    """A running rehearsal proxy in front of *upstream*; ``set_faults`` changes what it injects."""

    def __init__(self, upstream: str, workdir: Path, confdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.rules = workdir / "faults.toml"
        self.log = workdir / "fired.jsonl"
        self.output = workdir / "proxy.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._offset = 0
        self.rules.write_text("", encoding="utf-8")
        self.log.write_text("", encoding="utf-8")
        argv = [
            sys.executable, "-m", "pytest_deploysmoke.faults",
            "--upstream", upstream, "--faults", str(self.rules), "--listen", f"127.0.0.1:{self.port}",
            "--log", str(self.log), "--confdir", str(confdir), "--mitmdump", mitmdump_path(),
        ]  # fmt: skip
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_listening()

    def _wait_listening(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the fault proxy did not start: {self.output.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)

    def set_faults(self, faults: Sequence[Mapping[str, Any]]) -> None:
        """Replace the rules (at once: a new file the proxy reads on its next call); forget the log so far."""
        staged = self.rules.with_suffix(".staged")
        staged.write_text(tomli_w.dumps({"fault": [dict(fault) for fault in faults]}), encoding="utf-8")
        os.replace(staged, self.rules)
        self._offset = self.log.stat().st_size

    def entries(self) -> list[dict[str, Any]]:
        """The log entries since the last ``set_faults``."""
        with self.log.open("rb") as log:
            log.seek(self._offset)
            return [json.loads(line) for line in log.read().decode("utf-8").splitlines() if line.strip()]

    def fired(self) -> list[dict[str, Any]]:
        """The faults fired since the last ``set_faults``, one entry per firing."""
        return [entry for entry in self.entries() if entry.get("event") == "fired"]

    def stop(self) -> None:
        """Stop the proxy by its PID (it is mitmdump: the command line became it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def mitm_confdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mitmproxy's own folder for the session's proxies (its CA is made once, not in ~/.mitmproxy)."""
    return tmp_path_factory.mktemp("mitmproxy")


@dataclass(frozen=True)
class Outcome:
    """One run of a suite through the proxy: exit code, output, JSON summary and the faults fired."""

    ret: int
    output: str
    summary: dict[str, Any]
    fired: list[dict[str, Any]]

    @property
    def decision(self) -> str:
        return str(self.summary["verdict"]["decision"])

    @property
    def failed(self) -> dict[str, dict[str, Any]]:
        """The checks that failed or errored, by node id."""
        return {check["nodeid"]: check for check in self.summary["checks"] if check["outcome"] in ("failed", "error")}

    def failed_check(self, name: str) -> dict[str, Any]:
        """The failed check whose node id ends with *name* (``test_health.py::test_status``); fail if none."""
        found = [check for nodeid, check in self.failed.items() if nodeid.endswith(name)]
        assert found, f"{name} did not fail\n{self.explain()}"
        return found[0]

    def explain(self) -> str:
        """What an assertion about this run shows: the verdict, what failed, what fired and the output's end."""
        verdict = self.summary.get("verdict", {})
        failed = "\n".join(f"  {nodeid}: {(check['message'] or '')[:300]}" for nodeid, check in self.failed.items())
        fired = "\n".join(f"  {entry['fault']} on {entry['call']}: {entry['detail']}" for entry in self.fired[:10])
        return (
            f"exit code {self.ret}, {verdict.get('decision')}: {verdict.get('reasons')} {verdict.get('rollback')}\n"
            f"failed:\n{failed or '  nothing'}\nfired:\n{fired or '  nothing'}\n--- output ---\n{self.output[-3000:]}"
        )


@dataclass(frozen=True)
class Case:
    """One bad deploy of a fault matrix: the faults, the verdict it must get, the check that must name it and what it says."""

    faults: tuple[Mapping[str, Any], ...]
    check: str | None  # None: no check fails, the verdict's rules name it (a rollback rule)
    says: tuple[str, ...]
    decision: str = "NO-GO"
    target: str = PROXIED
    args: tuple[str, ...] | None = None  # None: the rehearsal's case_args


def case(
    faults: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    check: str | None,
    *says: str,
    decision: str = "NO-GO",
    target: str = PROXIED,
    args: tuple[str, ...] | None = None,
    id: str,
) -> Any:
    """A matrix entry: ``case({"match": "GET /health", "kind": "status"}, "test_health", "503", id="health-503")``."""
    faults = (faults,) if isinstance(faults, Mapping) else tuple(faults)
    return pytest.param(Case(faults, check, says, decision, target, args), id=id)


@dataclass
class Rehearsal:
    """A copied example suite whose ``proxied`` target reaches its running stand-in through a FaultProxy."""

    project: Path
    env: dict[str, str]
    proxy: FaultProxy
    args: tuple[str, ...] = ("-m", "smoke")
    runs: int = field(default=0)
    #: The arguments of a case that names none (``--deploy-phase=...`` to leave out the screens, say).
    case_args: tuple[str, ...] = ()
    #: Called before each run: forget what a run leaves in the service (rate-limit counters, say).
    before_each: Callable[[], None] | None = None

    def run(
        self,
        *faults: Mapping[str, Any],
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        target: str = PROXIED,
    ) -> Outcome:
        """Run the suite on *target* (``proxied``, or one of rehearsal()'s *targets*) with *faults* injected.

        No faults: a good deploy.  With faults, at least one must fire, or the run tested nothing.
        """
        if self.before_each is not None:
            self.before_each()
        self.proxy.set_faults(faults)
        self.runs += 1
        summary = self.project / f"summary-{self.runs}.json"
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfEs", f"--deploy-target={target}"]
        argv += [f"--deploy-json={summary}", *self.args, *args]
        done = subprocess.run(
            argv,
            cwd=self.project,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        output = done.stdout + done.stderr
        assert summary.exists(), f"the run wrote no summary (exit code {done.returncode}):\n{output[-4000:]}"
        outcome = Outcome(done.returncode, output, json.loads(summary.read_text(encoding="utf-8")), self.proxy.fired())
        if faults:
            assert outcome.fired, f"no fault fired: the rehearsal tested nothing\n{outcome.explain()}"
        return outcome

    def rehearse(self, case: Case, env: Mapping[str, str] | None = None) -> Outcome:
        """Run *case*; assert its verdict, that its check (or the verdict's rules) names what it says, and that
        nothing crashed."""
        args = self.case_args if case.args is None else case.args
        outcome = self.run(*case.faults, target=case.target, args=args, env=env)
        assert outcome.decision == case.decision, outcome.explain()
        if case.check is None:
            verdict = outcome.summary["verdict"]
            message = " ".join([*verdict["rollback"], *verdict["reasons"]])
        else:
            message = outcome.failed_check(case.check)["message"] or ""
        missing = [text for text in case.says if text not in message]
        assert not missing, f"{case.check or 'the verdict'} does not name {missing}: {message}\n{outcome.explain()}"
        assert "Traceback" not in outcome.output and "INTERNALERROR" not in outcome.output, outcome.explain()
        return outcome

    def assert_go(self, env: Mapping[str, str] | None = None) -> Outcome:
        """A run with no fault: the proxy itself changes nothing, so the verdict is GO."""
        outcome = self.run(env=env)
        assert outcome.decision == "GO", outcome.explain()
        assert not outcome.fired
        return outcome


@contextmanager
def rehearsal(
    example: str,
    workdir: Path,
    env: Mapping[str, str],
    confdir: Path,
    *,
    prepare: Callable[[Path], None] | None = None,
    args: Sequence[str] = ("-m", "smoke"),
    targets: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[Rehearsal]:
    """Copy *example* into *workdir*, start its stand-in and a proxy in front of it; yield the Rehearsal.

    *env* is the environment of the stand-in and of every run (the suite's ``${VAR}``s); *prepare*,
    given the copied project's path, changes the copy before anything starts (budgets, say).
    *targets* adds more targets through the proxy: each name gets ``proxied``'s keys with its own
    on top (``{"strict": {"budgets": {"GET /files": "500ms"}}}``: the one run about speed).
    """
    project = workdir / example
    shutil.copytree(EXAMPLES / example, project, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    if prepare is not None:
        prepare(project)
    environ = {**os.environ, **env}
    target = build_target(load_config(project / "deploysmoke.toml"), "local", environ, port=free_port())
    assert target.launch is not None, f"{example}'s local target has no [launch]"
    with _environ(env):  # the stand-in gets the environment its [launch] would give it in a run
        standin = launch.start(target.launch, project)
    try:
        launch.wait_until_ready(
            target.base_url + target.launch.ready_path,
            within=target.launch.timeout,
            request_timeout=5,
            verify_tls=True,
            redactor=Redactor(),
            process=standin,
            what=f"{example} stand-in",
        )
        proxy = FaultProxy(target.base_url, workdir / "proxy", confdir)
        try:
            _add_proxied_targets(project / "deploysmoke.toml", proxy.url, targets or {})
            yield Rehearsal(project, environ, proxy, tuple(args))
        finally:
            proxy.stop()
    finally:
        standin.stop()


def _add_proxied_targets(config: Path, url: str, more: Mapping[str, Mapping[str, Any]]) -> None:
    """Add ``[targets.proxied]``, the ``local`` target without its [launch] at *url*, and *more* on top of it."""
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    proxied = {key: value for key, value in data["targets"]["local"].items() if key != "launch"}
    proxied["base_url"] = url
    data["targets"][PROXIED] = proxied
    for name, overrides in more.items():
        data["targets"][name] = {**proxied, **overrides}
    config.write_text(tomli_w.dumps(data), encoding="utf-8")


@contextmanager
def _environ(env: Mapping[str, str]) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield
