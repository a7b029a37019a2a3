"""--deploy-pushgateway and --deploy-metrics: a run's metrics reach a real Pushgateway and a textfile, whatever the verdict."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import delete_from_gateway
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from pytest_deploysmoke.reports.prometheus import JOB, build_registry, push
from pytest_deploysmoke.results.verdict import RunInfo, decide
from tests.fix_servers import socketserver_in_thread

SUITE = """
import pytest
from pytest_deploysmoke import expect_status


@pytest.mark.phase("health")
def test_health(http):
    '''GET /health answers.'''
    for _ in range(5):
        expect_status(http.get("/health"), 200)


@pytest.mark.phase("features")
def test_items(http):
    '''GET /items answers.'''
    expect_status(http.get("/items?page=1"), 200)
"""

FAILING = """
import pytest
from pytest_deploysmoke import expect_status


@pytest.mark.phase("features")
def test_server_error(http):
    '''GET /status/500 answers 200 (it does not).'''
    expect_status(http.get("/status/500"), 200)
"""


@pytest.fixture
def target_name(pushgateway_url: str) -> Iterator[str]:
    """A target name of this test's own, so parallel tests read only their group; the group is deleted after."""
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    delete_from_gateway(pushgateway_url, job=JOB, grouping_key={"target": name}, timeout=5)


def project(pytester: pytest.Pytester, name: str, url: str, suite: str = SUITE, extra: str = "") -> None:
    pytester.makefile(".toml", deploysmoke=f'[targets.{name}]\nbase_url = "{url}"\ntimeout = 2.0\n{extra}')
    pytester.makepyfile(test_checks=suite)


def parse(text: str) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def pushed(pushgateway_url: str, target: str) -> list[Sample]:
    """The samples the Pushgateway holds in group ``{job="deploysmoke", target=...}``, read back over HTTP."""
    text = httpx.get(f"{pushgateway_url}/metrics", timeout=5).raise_for_status().text
    return [s for s in parse(text) if s.labels.get("job") == JOB and s.labels.get("target") == target]


def one(samples: list[Sample], name: str, **labels: str) -> Sample:
    """The one sample called *name* whose labels include *labels*."""
    found = [s for s in samples if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def own(samples: list[Sample], *grouping: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    """The deploysmoke samples without the labels a push group or a file adds, comparable across the two."""
    return {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in grouping)), s.value)
        for s in samples
        if s.name.startswith("deploysmoke_")
    }


def decision(result: pytest.RunResult) -> str:
    """The decision on the run's verdict line (``deploysmoke verdict: NO-GO: ...`` gives ``NO-GO``)."""
    (line,) = [line for line in result.outlines if line.startswith("deploysmoke verdict: ")]
    return line.removeprefix("deploysmoke verdict: ").split(":", 1)[0]


XDIST = pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])


@XDIST
def test_run_pushes_its_verdict_and_figures(
    pytester: pytest.Pytester, standin_url: str, pushgateway_url: str, target_name: str, xdist: list[str]
) -> None:
    """A GO run pushes the verdict gauge, each check's duration and each endpoint's latency to the Pushgateway,
    in group job="deploysmoke", target=<target>, and they agree with the JSON summary."""
    project(pytester, target_name, standin_url, extra='version = "1.2.3"\nversion_from = "json:/health:$.version"\n')
    result = pytester.runpytest(
        f"--deploy-target={target_name}", f"--deploy-pushgateway={pushgateway_url}", "--deploy-json=s.json", *xdist
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("*could not push*")
    samples = pushed(pushgateway_url, target_name)
    verdict = one(samples, "deploysmoke_verdict")
    assert verdict.value == 1
    assert verdict.labels == {
        "job": "deploysmoke",
        "instance": "",
        "target": target_name,
        "version": "1.2.3",
        "decision": "GO",
    }
    summary: dict[str, Any] = json.loads((pytester.path / "s.json").read_text(encoding="utf-8"))
    assert summary["verdict"]["decision"] == "GO"
    durations = {s.labels["check"]: s for s in samples if s.name == "deploysmoke_check_duration_seconds"}
    assert durations.keys() == {check["nodeid"] for check in summary["checks"]}
    health = durations["test_checks.py::test_health"]
    assert (health.labels["phase"], health.labels["outcome"]) == ("health", "passed")
    assert health.value > 0
    health_calls = sorted(
        call["ms"] for check in summary["checks"] for call in check["calls"] if call["action"] == "GET /health"
    )
    p95 = one(samples, "deploysmoke_endpoint_latency_seconds", endpoint="GET /health", quantile="0.95").value
    # One of the calls, within the histogram's 1 % and the JSON's rounding to 0.1 ms.
    assert (health_calls[0] - 0.05) / 1000 <= p95 <= (health_calls[-1] + 0.05) / 1000 * 1.01
    assert one(samples, "deploysmoke_endpoint_latency_seconds", endpoint="GET /items", quantile="0.5").value > 0
    assert one(samples, "deploysmoke_endpoint_requests_total", endpoint="GET /health").value == len(health_calls)
    assert one(samples, "deploysmoke_endpoint_errors_total", endpoint="GET /items").value == 0
    assert one(samples, "deploysmoke_run_timestamp_seconds").value > 0
    assert one(samples, "push_time_seconds").value > 0  # the Pushgateway's own: the group was replaced just now


def test_no_go_run_pushes_no_go(
    pytester: pytest.Pytester, standin_url: str, pushgateway_url: str, target_name: str
) -> None:
    """A failing check makes the pushed verdict NO-GO, its check failed and its endpoint's 5xx an error; pytest exits 1."""
    project(pytester, target_name, standin_url, suite=FAILING)
    result = pytester.runpytest(f"--deploy-target={target_name}", f"--deploy-pushgateway={pushgateway_url}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    samples = pushed(pushgateway_url, target_name)
    assert one(samples, "deploysmoke_verdict").labels["decision"] == "NO-GO"
    assert one(samples, "deploysmoke_verdict").labels.get("version", "") == ""  # none expected, none reported
    check = one(samples, "deploysmoke_check_duration_seconds", check="test_checks.py::test_server_error")
    assert check.labels["outcome"] == "failed"
    assert one(samples, "deploysmoke_endpoint_errors_total", endpoint="GET /status/500").value == 1


INTERRUPTED = """
import pytest


@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/health").status_code == 200


@pytest.mark.phase("features")
def test_interrupted():
    raise KeyboardInterrupt
"""


@pytest.mark.parametrize("ending", ["not ready", "interrupted"])
def test_runs_that_end_early_push_no_go(
    pytester: pytest.Pytester, standin_url: str, pushgateway_url: str, target_name: str, ending: str
) -> None:
    """A target that never got ready and a run cut short by Ctrl-C both push their NO-GO."""
    if ending == "not ready":
        project(pytester, target_name, "http://127.0.0.1:9")
        result = pytester.runpytest(
            f"--deploy-target={target_name}", f"--deploy-pushgateway={pushgateway_url}", "--deploy-wait=0.5"
        )
        assert result.ret == pytest.ExitCode.TESTS_FAILED
    else:
        project(pytester, target_name, standin_url, suite=INTERRUPTED)
        # In a subprocess: pytester's in-process run hands a KeyboardInterrupt on to this test.
        result = pytester.runpytest_subprocess(
            f"--deploy-target={target_name}", f"--deploy-pushgateway={pushgateway_url}"
        )
        assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["deploysmoke verdict: NO-GO*"])
    assert one(pushed(pushgateway_url, target_name), "deploysmoke_verdict").labels["decision"] == "NO-GO"


def test_metrics_file_holds_what_was_pushed(
    pytester: pytest.Pytester, standin_url: str, pushgateway_url: str, target_name: str
) -> None:
    """--deploy-metrics writes the pushed metrics in the text format, each naming the target, and nothing beside it."""
    project(pytester, target_name, standin_url)
    pytester.mkdir("textfile")
    result = pytester.runpytest(
        f"--deploy-target={target_name}",
        f"--deploy-pushgateway={pushgateway_url}",
        "--deploy-metrics=textfile/deploysmoke.prom",
    )
    assert result.ret == pytest.ExitCode.OK
    in_file = parse((pytester.path / "textfile" / "deploysmoke.prom").read_text(encoding="utf-8"))
    assert {s.labels["target"] for s in in_file} == {target_name}
    # The stand-in's /health reports version 1.2.3, read with the default version_from.
    assert one(in_file, "deploysmoke_verdict").labels == {"target": target_name, "version": "1.2.3", "decision": "GO"}
    assert one(in_file, "deploysmoke_endpoint_latency_seconds", endpoint="GET /health", quantile="0.95").value > 0
    assert one(in_file, "deploysmoke_check_duration_seconds", check="test_checks.py::test_items").value > 0
    assert own(in_file, "target") == own(pushed(pushgateway_url, target_name), "job", "instance", "target")
    # No temporary file is left beside it.
    assert [path.name for path in (pytester.path / "textfile").iterdir()] == ["deploysmoke.prom"]


@pytest.mark.parametrize("suite", [SUITE, FAILING], ids=["GO", "NO-GO"])
def test_pushgateway_that_is_down_is_one_warning_line(
    pytester: pytest.Pytester, standin_url: str, closed_port: int, suite: str
) -> None:
    """A Pushgateway nobody listens on is one warning line; the exit code and the verdict are what the checks made them."""
    project(pytester, "t", standin_url, suite=suite)
    gateway = f"http://127.0.0.1:{closed_port}"
    without = pytester.runpytest("--deploy-target=t")
    result = pytester.runpytest("--deploy-target=t", f"--deploy-pushgateway={gateway}", "--deploy-metrics=m.prom")
    assert result.ret == without.ret
    warnings = [line for line in result.outlines if "could not push" in line]
    assert len(warnings) == 1, result.outlines
    assert warnings[0].startswith(
        f"deploysmoke: could not push metrics to {gateway}: connection refused after "
    ) and warnings[0].endswith(" ms; the run's verdict stands")
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    assert decision(result) == decision(without) == ("GO" if suite == SUITE else "NO-GO")
    assert (pytester.path / "m.prom").exists()  # the file is written all the same


def test_pushgateway_that_answers_an_error_is_one_warning_line(pytester: pytest.Pytester, standin_url: str) -> None:
    """A server that refuses the push (the stand-in: no such path) is one line naming its answer; the run is GO."""
    project(pytester, "t", standin_url)
    result = pytester.runpytest("--deploy-target=t", f"--deploy-pushgateway={standin_url}")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [f"deploysmoke: could not push metrics to {standin_url}: answered 40? *after * ms; the run's verdict stands"]
    )
    result.stdout.fnmatch_lines(["deploysmoke verdict: GO*"])


def test_pushgateway_password_never_shows(pytester: pytest.Pytester, standin_url: str, closed_port: int) -> None:
    """The password of a --deploy-pushgateway URL is masked in the warning line and appears nowhere."""
    password = "pushpass-0123456789"
    project(pytester, "t", standin_url)
    result = pytester.runpytest(
        "--deploy-target=t", f"--deploy-pushgateway=http://ci:{password}@127.0.0.1:{closed_port}"
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"deploysmoke: could not push metrics to http://ci:***@127.0.0.1:{closed_port}: *"])
    assert password not in result.stdout.str() + result.stderr.str()


def test_push_with_credentials_sends_basic_auth() -> None:
    """A user and password in the URL go as HTTP basic auth (percent-decoded), and the URL sent has neither."""
    seen: list[tuple[str, str, str | None]] = []

    class Gateway(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.command, self.path, self.headers["Authorization"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    verdict = decide(RunInfo(target="t", base_url="http://x", production=False), (), ())
    with socketserver_in_thread(http.server.HTTPServer(("127.0.0.1", 0), Gateway)) as url:
        gateway = url.replace("http://", "http://ci:s%40cret@") + "/prefix/"
        assert push(gateway, "t", build_registry(verdict)) == ""
    credentials = base64.b64encode(b"ci:s@cret").decode()
    assert seen == [("PUT", "/prefix/metrics/job/deploysmoke/target/t", f"Basic {credentials}")]


def test_silent_pushgateway_times_out() -> None:
    """A gateway that accepts the connection and never answers is given up after the timeout, in one line."""
    verdict = decide(RunInfo(target="t", base_url="http://x", production=False), (), ())
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        problem = push(url, "t", build_registry(verdict), timeout=0.2)
    assert problem.startswith("timed out after ")


def test_options_are_inert_without_a_target(pytester: pytest.Pytester, closed_port: int) -> None:
    """Without a target, --deploy-pushgateway and --deploy-metrics do nothing: no push, no file, no line."""
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest(f"--deploy-pushgateway=http://127.0.0.1:{closed_port}", "--deploy-metrics=m.prom")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("*could not push*")
    assert not (pytester.path / "m.prom").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "--deploy-pushgateway=localhost:9091",
            "--deploy-pushgateway is 'localhost:9091'; expected an http or https URL such as 'http://127.0.0.1:9091'",
        ),
        (
            "--deploy-pushgateway=ftp://127.0.0.1:9091",
            "--deploy-pushgateway is 'ftp://127.0.0.1:9091'; expected an http or https URL such as 'http://127.0.0.1:9091'",
        ),
        (
            "--deploy-pushgateway=http://127.0.0.1:port",
            "--deploy-pushgateway is 'http://127.0.0.1:port'; expected an http or https URL such as 'http://127.0.0.1:9091'",
        ),
        (
            "--deploy-metrics=nowhere/deploysmoke.prom",
            "--deploy-metrics folder 'nowhere' does not exist; "
            "give a path in an existing folder, such as node_exporter's --collector.textfile.directory",
        ),
        (
            "--deploy-metrics=textfile",
            "--deploy-metrics 'textfile' is a directory; give a file path, e.g. textfile/deploysmoke.prom",
        ),
    ],
)
def test_bad_option_value_is_a_usage_error(pytester: pytest.Pytester, option: str, message: str) -> None:
    """A Pushgateway that is not an http(s) URL and a metrics path that cannot be written are refused before any check."""
    pytester.makefile(".toml", deploysmoke='[targets.t]\nbase_url = "http://127.0.0.1:9"\n')
    pytester.makepyfile(test_x="def test_x():\n    raise AssertionError('a check ran')\n")
    pytester.mkdir("textfile")
    result = pytester.runpytest("--deploy-target=t", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "Traceback" not in result.stderr.str()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: ")]
    assert errors == [f"ERROR: {message}"]


def test_bad_pushgateway_url_hides_its_password(pytester: pytest.Pytester) -> None:
    """The usage error of a bad --deploy-pushgateway masks the password in it."""
    pytester.makefile(".toml", deploysmoke='[targets.t]\nbase_url = "http://127.0.0.1:9"\n')
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest("--deploy-target=t", "--deploy-pushgateway=ftp://ci:pushpass-0123456789@h")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --deploy-pushgateway is 'ftp://ci:***@h'; *"])
    assert "pushpass-0123456789" not in result.stdout.str() + result.stderr.str()


def test_help_lists_both_options(pytester: pytest.Pytester) -> None:
    """pytest --help shows the two options in the deploysmoke group."""
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["post-deploy smoke checks:", "*--deploy-pushgateway=URL*", "*--deploy-metrics=PATH*"])


def test_doc_example_writes_the_metrics_it_shows(pytester: pytest.Pytester, standin_url: str) -> None:
    """The page's example project, run with its arguments, writes a file with every metric name the page shows of it."""
    from tests.doc_pages import DOCS, fenced_blocks, read_page

    page = read_page(DOCS / "prometheus.md")
    for name, body in page.files.items():
        (pytester.path / name).write_text(body, encoding="utf-8")
    result = pytester.runpytest(*page.args, f"--deploy-base-url={standin_url}")
    result.assert_outcomes(**page.expect)
    shown = parse(fenced_blocks(DOCS / "prometheus.md", "text", after="## Smallest example")[0])
    written = parse(Path(pytester.path / "deploysmoke.prom").read_text(encoding="utf-8"))
    assert {s.name for s in shown} == {s.name for s in written}
    assert {tuple(sorted(s.labels)) for s in shown} == {tuple(sorted(s.labels)) for s in written}
