"""Local launch and waiting: start a [launch] command, wait for readiness, stop it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from pytest_deploysmoke.clients import tracecontext
from pytest_deploysmoke.clients.network import describe_error
from pytest_deploysmoke.clients.version import VersionTally, VersionWait, read_answer
from pytest_deploysmoke.config.model import LaunchSettings, Target
from pytest_deploysmoke.config.redaction import Redactor
from pytest_deploysmoke.config.settings import get_redactor, get_settings
from pytest_deploysmoke.errors import TargetNotReady
from pytest_deploysmoke.results.records import call_action

#: How many lines of the command's output a launch failure shows.
TAIL_LINES = 20
#: Seconds between SIGTERM and SIGKILL when stopping a launched command.
STOP_GRACE = 5.0

#: What came back when the target never got ready (the first line of the TargetNotReady message).
not_ready_key = pytest.StashKey[str]()


def not_ready(config: pytest.Config) -> str:
    """What came back when the target never got ready, or "" when it did (or nobody waited)."""
    return config.stash.get(not_ready_key, "")


@dataclass(slots=True)
class LaunchedProcess:
    """A running [launch] command, its process group and its output log."""

    command: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes]

    def exited(self) -> int | None:
        """The exit code if the command has exited, else None."""
        return self.process.poll()

    def tail(self, lines: int = TAIL_LINES) -> list[str]:
        """The last *lines* lines of the command's output."""
        self._log.flush()
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Terminate the command's process group, then kill it after *grace* seconds."""
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait(timeout=grace)
        self._log.close()
        try:
            self.log_path.unlink()
            self.log_path.parent.rmdir()
        except OSError:
            pass


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def start(settings: LaunchSettings, cwd: Path) -> LaunchedProcess:
    """Start *settings.command* in its own process group, output going to a log file.

    The directory of the running Python is put first on PATH, so a command such as
    ``uvicorn app:app`` finds the tools of the virtual environment pytest runs in.
    """
    argv = shlex.split(settings.command)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(settings.env)
    log_dir = Path(tempfile.mkdtemp(prefix="deploysmoke-launch-"))
    log_path = log_dir / "output.log"
    log = log_path.open("wb")
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        log.close()
        raise TargetNotReady(
            f"[launch] command '{settings.command}' could not start: {exc.strerror or exc}; "
            "check the command and that it is installed"
        ) from None
    return LaunchedProcess(settings.command, process, log_path, log)


def wait_until_ready(
    url: str,
    *,
    within: float,
    request_timeout: float,
    verify_tls: bool,
    redactor: Redactor,
    process: LaunchedProcess | None = None,
    what: str = "target",
    clock: Callable[[], float] = time.monotonic,
    version: VersionWait | None = None,
    base_url: str = "",
) -> int:
    """Poll GET *url* with backoff until it answers 2xx; return the number of attempts.

    Failures name the call as every check does: ``GET /health``, relative to *base_url*.

    With *version*, a 2xx answer is not enough: the version read where its source says (the
    same answer when that is *url*) must be the expected one, as a rolling deploy still has
    instances of the old release answering.

    The wait is one trace: each request carries a ``traceparent`` in it, with a span of its own.

    Raises:
        TargetNotReady: *within* seconds passed, or the launched *process* exited first.
    """
    import httpx

    name = call_action("GET", url, base_url)
    started = clock()
    deadline = started + within
    attempts = 0
    delay = 0.05
    last = "no answer yet"
    tally = VersionTally()
    trace_id = tracecontext.new_trace_id()

    def traced() -> dict[str, str]:
        return {tracecontext.TRACEPARENT: tracecontext.traceparent(trace_id)}

    with httpx.Client(verify=verify_tls, timeout=request_timeout, follow_redirects=False) as client:
        while True:
            if process is not None and (code := process.exited()) is not None:
                raise TargetNotReady(
                    redactor.redact(
                        f"[launch] command '{process.command}' exited with code {code} before "
                        f"{name} answered; its last output:\n" + _indent(process.tail())
                    )
                )
            attempts += 1
            timeout = min(request_timeout, max(deadline - clock(), 0.1))
            try:
                response = client.get(url, timeout=timeout, headers=traced())
                if 200 <= response.status_code < 300:
                    if version is None:
                        return attempts
                    # The same answer when the version is published on the health path.
                    answer = (
                        response if version.url == url else client.get(version.url, timeout=timeout, headers=traced())
                    )
                    reading = read_answer(version.source, answer)
                    tally.add(reading)
                    if reading.version == version.expected:
                        return attempts
                else:
                    last = f"status {response.status_code}"
            except httpx.HTTPError as exc:
                last = describe_error(exc)
            remaining = deadline - clock()
            if remaining <= 0:
                break
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 2.0)
    elapsed = clock() - started
    if version is not None and tally.answers:
        raise TargetNotReady(redactor.redact(f"{what} not ready: {version.gave_up(within, tally)}"))
    message = (
        f"{what} not ready: {name} gave {last} (after {attempts} attempts in {elapsed:.1f} s); "
        "check that the service is up and that base_url and the ready/health path are right"
    )
    if process is not None:
        message += "; the command's last output:\n" + _indent(process.tail())
    raise TargetNotReady(redactor.redact(message))


def _indent(lines: list[str]) -> str:
    return "\n".join(f"    {line}" for line in lines) or "    (no output)"


def launch_and_wait(target: Target, cwd: Path, redactor: Redactor) -> LaunchedProcess:
    """Start the target's [launch] command and wait until its ready_path answers 2xx."""
    assert target.launch is not None
    process = start(target.launch, cwd)
    try:
        wait_until_ready(
            target.base_url + target.launch.ready_path,
            within=target.launch.timeout,
            request_timeout=min(target.timeout, target.launch.timeout),
            verify_tls=target.verify_tls,
            redactor=redactor,
            process=process,
            what=f"launched target '{target.name}'",
            base_url=target.base_url,
        )
    except BaseException:
        process.stop()
        raise
    return process


def version_wait(target: Target) -> VersionWait | None:
    """What the readiness wait also waits for: the target's version, with ``wait_for_version``."""
    if not target.wait_for_version:
        return None
    source = target.version_source
    return VersionWait(target.version, source, target.base_url + source.path)


def prepare_target(session: pytest.Session) -> None:
    """Before the first check: launch the target if it has [launch], then wait for it if asked.

    Runs on the controller only (xdist workers get the port through ``workerinput``), not for
    ``--collect-only`` and not after collection errors.  A target that never gets ready stops
    the run: the reason is printed, no check runs, and pytest exits 1.
    """
    config = session.config
    settings = get_settings(config)
    if settings is None or hasattr(config, "workerinput") or config.option.collectonly or session.testsfailed:
        return
    target = settings.target
    redactor = get_redactor(config)
    try:
        if target.launch is not None:
            cwd = settings.config.path.parent if settings.config.path else config.rootpath
            process = launch_and_wait(target, cwd, redactor)
            config.add_cleanup(process.stop)
        if settings.target.wait_ready > 0:
            wait_until_ready(
                target.base_url + target.health_path,
                within=settings.target.wait_ready,
                request_timeout=target.timeout,
                verify_tls=target.verify_tls,
                redactor=redactor,
                what=f"target '{target.name}'",
                version=version_wait(target),
                base_url=target.base_url,
            )
    except TargetNotReady as exc:
        first = str(exc).splitlines()[0]
        _, said, detail = first.partition(" not ready: ")
        config.stash[not_ready_key] = detail if said else first
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(f"deploysmoke: {exc}", red=True, bold=True)
        session.shouldfail = f"deploysmoke: target '{target.name}' not ready; no checks ran"
        raise session.Failed(session.shouldfail) from None
