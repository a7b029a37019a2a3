"""[launch] starts a real uvicorn for the run; wait_ready polls a real server before any check."""

from __future__ import annotations

import os
import re
import sys

import pytest

from tests.fix_servers import APPS

UVICORN = f"{sys.executable} -m uvicorn --app-dir {APPS} standin:app --host 127.0.0.1 --port {{port}}"

PID_CHECK = """
import os
import httpx
import pytest

@pytest.mark.phase("health")
def test_health(deploy_target):
    response = httpx.get(deploy_target.base_url + "/health", timeout=5)
    assert response.json()["version"] == "9.9.9"
"""


def launch_config(command: str, ready_path: str = "/health", timeout: float = 20) -> str:
    return (
        '[targets.local]\nbase_url = "http://127.0.0.1:{port}"\n'
        f"[targets.local.launch]\ncommand = {command!r}\nready_path = {ready_path!r}\ntimeout = {timeout}\n"
        'env = { STANDIN_VERSION = "9.9.9" }\n'
    )


def test_launched_app_serves_the_run_and_is_stopped(pytester: pytest.Pytester) -> None:
    """The launch command gets a free port, serves the checks, and is gone after the session."""
    pytester.makefile(".toml", deploysmoke=launch_config(UVICORN))
    pytester.makepyfile(test_checks=PID_CHECK)
    result = pytester.runpytest_subprocess("--deploy-target=local", "-m", "smoke")
    result.assert_outcomes(passed=1)
    port = int(re.search(r"base_url=http://127\.0\.0\.1:(\d+)", result.stdout.str()).group(1))  # type: ignore[union-attr]  # the header always has it
    import socket

    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the launched server still listens"


def test_launched_app_under_xdist_gets_the_same_port(pytester: pytest.Pytester) -> None:
    """Workers use the controller's launched server (one launch, port handed over)."""
    pytester.makefile(".toml", deploysmoke=launch_config(UVICORN))
    pytester.makepyfile(test_checks=PID_CHECK + "\n\ndef test_two(deploy_target):\n    test_health(deploy_target)\n")
    result = pytester.runpytest_subprocess("--deploy-target=local", "-n", "2")
    result.assert_outcomes(passed=2)


def test_command_that_exits_early_shows_its_output(pytester: pytest.Pytester) -> None:
    """A command that dies before it is ready stops the run and shows its last lines."""
    script = pytester.makepyfile(crash="import sys\nprint('booting...')\nprint('FATAL: no config')\nsys.exit(3)\n")
    pytester.makefile(".toml", deploysmoke=launch_config(f"{sys.executable} {script}"))
    pytester.makepyfile(test_checks=PID_CHECK)
    result = pytester.runpytest_subprocess("--deploy-target=local")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str() + result.stderr.str()
    assert "[launch] command '" in output and "exited with code 3 before" in output
    assert "FATAL: no config" in output
    assert "Traceback" not in output and "INTERNALERROR" not in output
    assert "test_health" not in result.stdout.str()


def test_command_that_never_gets_ready_times_out(pytester: pytest.Pytester) -> None:
    """A server whose ready_path never answers 2xx stops the run with the last status seen."""
    pytester.makefile(".toml", deploysmoke=launch_config(UVICORN, ready_path="/status/503", timeout=1.5))
    pytester.makepyfile(test_checks=PID_CHECK)
    result = pytester.runpytest_subprocess("--deploy-target=local")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str() + result.stderr.str()
    assert re.search(
        r"launched target 'local' not ready: GET /status/503 gave status 503 "
        r"\(after \d+ attempts in 1\.\d s\)",
        output,
    ), output


def test_missing_command_is_reported(pytester: pytest.Pytester) -> None:
    """A command that cannot start at all says so."""
    pytester.makefile(".toml", deploysmoke=launch_config("no-such-binary-xyz --port {port}"))
    pytester.makepyfile(test_checks=PID_CHECK)
    result = pytester.runpytest_subprocess("--deploy-target=local")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str() + result.stderr.str()
    assert "[launch] command 'no-such-binary-xyz --port" in output
    assert "could not start: No such file or directory" in output


def test_collect_only_does_not_launch(pytester: pytest.Pytester) -> None:
    """--collect-only never starts the command."""
    marker = pytester.path / "launched"
    script = pytester.makepyfile(touch=f"open({str(marker)!r}, 'w').close()\n")
    pytester.makefile(".toml", deploysmoke=launch_config(f"{sys.executable} {script}"))
    pytester.makepyfile(test_checks=PID_CHECK)
    result = pytester.runpytest("--deploy-target=local", "--co")
    assert result.ret == pytest.ExitCode.OK
    assert not marker.exists()


def test_wait_ready_passes_once_health_answers(pytester: pytest.Pytester, standin_url: str) -> None:
    """--deploy-wait polls health_path and lets the run start when it answers 2xx."""
    pytester.makefile(".toml", deploysmoke=f'[targets.s]\nbase_url = "{standin_url}"\n')
    pytester.makepyfile(test_checks="def test_x():\n    pass\n")
    result = pytester.runpytest("--deploy-target=s", "--deploy-wait=5")
    result.assert_outcomes(passed=1)


def test_wait_ready_gives_up_with_last_error(pytester: pytest.Pytester, closed_port: int) -> None:
    """Giving up on wait_ready is one clear error with the last connection error, exit 1."""
    pytester.makefile(
        ".toml", deploysmoke=f'[targets.s]\nbase_url = "http://127.0.0.1:{closed_port}"\nwait_ready = 0.6\n'
    )
    pytester.makepyfile(test_checks="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("--deploy-target=s")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str() + result.stderr.str()
    assert re.search(
        r"target 's' not ready: GET /health gave connection refused "
        r"\(after \d+ attempts in 0\.\d s\); check that the service is up",
        output,
    ), output
    assert "Traceback" not in output


def test_wait_ready_reports_last_status(pytester: pytest.Pytester, standin_url: str) -> None:
    """A health path that keeps answering 500 is named with its status."""
    pytester.makefile(
        ".toml",
        deploysmoke=f'[targets.s]\nbase_url = "{standin_url}"\nhealth_path = "/status/500"\n',
    )
    pytester.makepyfile(test_checks="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("--deploy-target=s", "--deploy-wait=0.5")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "/status/500 gave status 500" in result.stdout.str() + result.stderr.str()


@pytest.mark.skipif(os.name != "posix", reason="process groups and signals are POSIX")
def test_launched_process_is_stopped_on_keyboard_interrupt(pytester: pytest.Pytester) -> None:
    """Ctrl-C during the run still stops the launched server."""
    pytester.makefile(".toml", deploysmoke=launch_config(UVICORN))
    pytester.makepyfile(
        test_checks="def test_interrupt(deploy_target):\n"
        "    print('PORT', deploy_target.base_url.rsplit(':', 1)[1])\n"
        "    raise KeyboardInterrupt\n"
    )
    result = pytester.runpytest_subprocess("--deploy-target=local", "-s")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    port = int(re.search(r"PORT (\d+)", result.stdout.str()).group(1))  # type: ignore[union-attr]  # printed by the test
    import socket

    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
