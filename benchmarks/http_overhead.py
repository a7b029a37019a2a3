"""Measure what the plugin's ``http`` fixture adds to plain ``httpx.Client`` requests.

Run it with::

    .venv/bin/python benchmarks/http_overhead.py [--requests N] [--rounds R] [--max-overhead PCT]

It serves a trivial Starlette app (``GET /health`` returning JSON) under uvicorn in a separate
process on 127.0.0.1, so the server's CPU does not share the client's GIL, and writes a throwaway
pytest project whose deploy target points at it. That project has two tests doing the same N
sequential GETs and timing only the request loop with ``time.perf_counter``: ``test_plain`` with a
plain ``httpx.Client(base_url=..., timeout=...)`` and ``test_plugin`` with the plugin's ``http``
fixture (the client is built before the timed loop). Each runs as its own
``python -m pytest -p no:cacheprovider -q --deploy-target=bench`` subprocess, alternately
(A B A B ...) so machine noise hits both alike; both runs have the plugin active and the target
selected, so the only difference measured is the instrumented client. Before timing, one
``--junitxml`` run of ``test_plugin`` checks that every request was recorded on the test.

The project's goal: at most 3% added wall time on 500 sequential GETs, median of repeated runs.

Exit status: 0 when all is well (or only reporting), 1 when the overhead exceeds
``--max-overhead``, 2 when the benchmark itself could not run (server did not start, a test failed,
calls not recorded, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

TARGET = "bench"
APP_MODULE = "benchapp"
HEALTH_PATH = "/health"
RESULTS_ENV = "HTTP_OVERHEAD_RESULTS"
CALLS_ENV = "HTTP_OVERHEAD_CALLS"
CALLS_PROPERTY = "deploysmoke.calls"
VARIANTS = ("test_plain", "test_plugin")
PYTEST_ARGS = ("-m", "pytest", "-p", "no:cacheprovider", "-q", f"--deploy-target={TARGET}")
PYTEST_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
SERVER_START_TIMEOUT = 20.0
SERVER_STOP_TIMEOUT = 5.0
RUN_TIMEOUT = 300.0
# Environment that would change what the runs do: extra options or plugins, or another target.
SCRUBBED_ENV_PREFIXES = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "DEPLOYSMOKE_")

APP_SOURCE = '''\
"""A trivial service for benchmarks/http_overhead.py."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/health", health)])
'''

TEST_TEMPLATE = '''\
"""The two variants timed by benchmarks/http_overhead.py: the same GETs, plain and via ``http``."""

import json
import os
import time

import httpx

BASE_URL = {base_url!r}
PATH = {path!r}
REQUESTS = {requests!r}
TIMEOUT = {timeout!r}


def _report(variant: str, elapsed: float) -> None:
    line = json.dumps({{"variant": variant, "requests": REQUESTS, "seconds": elapsed}})
    with open(os.environ[{results_env!r}], "a", encoding="utf-8") as out:
        out.write(line + "\\n")


def _get_all(client: httpx.Client) -> float:
    start = time.perf_counter()
    for _ in range(REQUESTS):
        response = client.get(PATH)
        assert response.status_code == 200
    return time.perf_counter() - start


def test_plain() -> None:
    with httpx.Client(base_url=BASE_URL, timeout=TIMEOUT) as client:
        elapsed = _get_all(client)
    _report("test_plain", elapsed)


def test_plugin(http: httpx.Client) -> None:
    elapsed = _get_all(http)
    _report("test_plugin", elapsed)
'''


CONFTEST_SOURCE = '''\
"""Counts the http call records on test reports, only when benchmarks/http_overhead.py asks."""

import json
import os

COUNTS = {{}}


def pytest_runtest_logreport(report):
    if {calls_env!r} not in os.environ:
        return
    for name, value in report.user_properties:
        if name == {calls_property!r}:
            http = [call for call in json.loads(value) if call.get("kind") == "http"]
            COUNTS[report.nodeid] = COUNTS.get(report.nodeid, 0) + len(http)


def pytest_sessionfinish(session):
    if {calls_env!r} in os.environ:
        with open(os.environ[{calls_env!r}], "w", encoding="utf-8") as out:
            json.dump(COUNTS, out)
'''


class BenchmarkError(Exception):
    """The benchmark could not be run meaningfully."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=500, help="sequential GETs per test run (default: 500)")
    parser.add_argument("--rounds", type=int, default=15, help="timed runs per variant (default: 15)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up runs per variant (default: 2)")
    parser.add_argument(
        "--max-overhead",
        type=float,
        default=None,
        metavar="PCT",
        help="exit 1 when the overhead exceeds PCT percent (default: only report)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="client and target timeout in s (default: 10)")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter for the server and the pytest runs (default: the one running this script)",
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.rounds < 1 or args.warmup < 0 or args.timeout <= 0:
        parser.error("--requests and --rounds must be >= 1, --warmup >= 0, --timeout > 0")
    return args


def clean_env() -> dict[str, str]:
    """The current environment without anything that would add options, plugins or a target."""
    return {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_ENV_PREFIXES)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(python: str, app_dir: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start uvicorn on 127.0.0.1:*port* serving the app in *app_dir*; the caller stops it."""
    (app_dir / f"{APP_MODULE}.py").write_text(APP_SOURCE, encoding="utf-8")
    cmd = [
        python,
        "-m",
        "uvicorn",
        "--app-dir",
        str(app_dir),
        f"{APP_MODULE}:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def wait_until_serving(proc: subprocess.Popen[bytes], url: str, timeout: float) -> None:
    """Poll *url* until it answers 200; fail when the server exits or *timeout* s pass."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise BenchmarkError(f"the server exited with status {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise BenchmarkError(f"the server did not answer {url} within {timeout:g} s")
        time.sleep(0.05)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server by its PID: terminate, then kill if it lingers."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=SERVER_STOP_TIMEOUT)


def make_project(root: Path, base_url: str, requests: int, timeout: float) -> Path:
    """Write the pytest project under *root*; return the test file."""
    (root / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    (root / "deploysmoke.toml").write_text(
        f'[targets.{TARGET}]\nbase_url = "{base_url}"\ntimeout = {timeout!r}\n', encoding="utf-8"
    )
    (root / "conftest.py").write_text(
        CONFTEST_SOURCE.format(calls_env=CALLS_ENV, calls_property=CALLS_PROPERTY), encoding="utf-8"
    )
    test_file = root / "test_http_overhead.py"
    source = TEST_TEMPLATE.format(
        base_url=base_url, path=HEALTH_PATH, requests=requests, timeout=timeout, results_env=RESULTS_ENV
    )
    test_file.write_text(source, encoding="utf-8")
    return test_file


def pytest_cmd(python: str, test_file: Path, variant: str, *extra: str) -> list[str]:
    return [python, *PYTEST_ARGS, *extra, f"{test_file.name}::{variant}"]


def run_variant(
    cmd: list[str], cwd: Path, env: dict[str, str], results: Path, variant: str, extra_env: dict[str, str] | None = None
) -> float:
    """Run one pytest subprocess; return the seconds its test reported for the timed loop."""
    results.unlink(missing_ok=True)
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            env={**env, **(extra_env or {}), RESULTS_ENV: str(results)},
            capture_output=True,
            text=True,
            check=False,
            timeout=RUN_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchmarkError(f"{variant}: `{shlex.join(cmd)}` did not finish within {RUN_TIMEOUT:g} s") from exc
    if proc.returncode != 0:
        raise BenchmarkError(
            f"{variant}: `{shlex.join(cmd)}` exited {proc.returncode}\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
        )
    lines = results.read_text(encoding="utf-8").splitlines() if results.exists() else []
    if len(lines) != 1:
        raise BenchmarkError(f"{variant}: expected one result line, got {len(lines)}\n{proc.stdout[-2000:]}")
    entry = json.loads(lines[0])
    if entry.get("variant") != variant:
        raise BenchmarkError(f"{variant}: the result line is for {entry.get('variant')!r}")
    return float(entry["seconds"])


def count_junit_calls(junit_xml: Path, testname: str) -> int:
    """The number of http call records in the ``deploysmoke.calls`` properties of *testname*."""
    root = ET.parse(junit_xml).getroot()
    for case in root.iter("testcase"):
        if case.get("name") == testname:
            values = [p.get("value") or "[]" for p in case.iter("property") if p.get("name") == CALLS_PROPERTY]
            return sum(1 for value in values for call in json.loads(value) if call.get("kind") == "http")
    raise BenchmarkError(f"{junit_xml.name}: no testcase named {testname}")


def check_recording(python: str, test_file: Path, env: dict[str, str], results: Path, requests: int) -> None:
    """Run test_plugin once with --junitxml and the report counter; fail unless every request was recorded.

    The authoritative count comes from the test reports' ``deploysmoke.calls`` user property (the
    project's conftest.py counts them); the JUnit XML count is reported alongside, since pytest's
    junitxml writes only the user properties of each test's teardown report.
    """
    project = test_file.parent
    junit_xml, counts_file = project / "report.xml", project / "calls.json"
    cmd = pytest_cmd(python, test_file, "test_plugin", f"--junitxml={junit_xml}")
    run_variant(cmd, project, env, results, "test_plugin", {CALLS_ENV: str(counts_file)})
    counts: dict[str, int] = json.loads(counts_file.read_text(encoding="utf-8"))
    reported = sum(n for nodeid, n in counts.items() if nodeid.endswith("::test_plugin"))
    in_junit = count_junit_calls(junit_xml, "test_plugin")
    print(f"recorded: test_plugin's reports carry {reported} http calls in {CALLS_PROPERTY} for {requests} GETs")
    print(f"          its --junitxml testcase carries {in_junit} of them")
    if in_junit != reported:
        print("          note: pytest's junitxml writes only the teardown report's user properties")
    if reported != requests:
        raise BenchmarkError(f"test_plugin recorded {reported} http calls for {requests} requests")


def time_interleaved(
    cmds: dict[str, list[str]], cwd: Path, env: dict[str, str], results: Path, rounds: int, warmup: int
) -> dict[str, list[float]]:
    """Run the variants A B A B ...; return the timed (post-warm-up) loop times in seconds."""
    samples: dict[str, list[float]] = {variant: [] for variant in cmds}
    for i in range(warmup + rounds):
        for variant, cmd in cmds.items():
            seconds = run_variant(cmd, cwd, env, results, variant)
            if i >= warmup:
                samples[variant].append(seconds)
    return samples


def summarize(samples: dict[str, list[float]], requests: int) -> float:
    """Print median and min per variant and the per-request costs; return the overhead in percent."""
    plain, plugin = (statistics.median(samples[v]) for v in VARIANTS)
    width = max(len(v) for v in VARIANTS) + 2
    for variant in VARIANTS:
        s = samples[variant]
        med = statistics.median(s)
        print(
            f"{variant + ':':<{width}}median {med * 1000:8.1f} ms  (min {min(s) * 1000:8.1f} ms)  "
            f"{med / requests * 1e6:7.1f} us/request"
        )
    overhead = (plugin / plain - 1.0) * 100.0
    added_us = (plugin - plain) / requests * 1e6
    print(f"{'overhead:':<{width}}{overhead:+.2f}% of median wall time ({added_us:+.1f} us/request)")
    # Informational: rounds run back to back, so each round's ratio sees much the same machine state.
    ratios = [b / a for a, b in zip(samples[VARIANTS[0]], samples[VARIANTS[1]], strict=True)]
    paired = statistics.median(ratios) - 1.0
    print(f"{'paired:':<{width}}{paired * 100:+.2f}% (median of the per-round plugin/plain ratios)")
    return overhead


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = clean_env()
    try:
        with tempfile.TemporaryDirectory(prefix="deploysmoke-http-") as tmp:
            root = Path(tmp)
            app_dir, project = root / "app", root / "project"
            app_dir.mkdir()
            project.mkdir()
            results = root / "results.jsonl"
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            server = start_server(args.python, app_dir, port, env)
            try:
                wait_until_serving(server, base_url + HEALTH_PATH, SERVER_START_TIMEOUT)
                test_file = make_project(project, base_url, args.requests, args.timeout)
                cmds = {variant: pytest_cmd(args.python, test_file, variant) for variant in VARIANTS}
                print(f"server:  uvicorn (pid {server.pid}) on {base_url}, GET {HEALTH_PATH}")
                print(f"python:  {args.python}")
                for variant, cmd in cmds.items():
                    print(f"  {variant}: {shlex.join(cmd)}")
                check_recording(args.python, test_file, env, results, args.requests)
                print(
                    f"runs:    {args.requests} sequential GETs per run; {args.rounds} rounds per variant "
                    f"after {args.warmup} warm-up, interleaved",
                    flush=True,
                )
                print()
                samples = time_interleaved(cmds, project, env, results, args.rounds, args.warmup)
            finally:
                stop_server(server)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    overhead = summarize(samples, args.requests)
    if args.max_overhead is not None:
        if overhead > args.max_overhead:
            print(f"FAIL: overhead {overhead:.2f}% exceeds --max-overhead {args.max_overhead:g}%")
            return 1
        print(f"OK: overhead {overhead:.2f}% within --max-overhead {args.max_overhead:g}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
