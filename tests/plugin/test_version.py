"""The deployed version: read where the service publishes it, checked by deploysmoke::version, shown everywhere."""

from __future__ import annotations

import fnmatch
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from importlib.resources import files
from typing import Any

import jsonschema
import pytest

from pytest_deploysmoke.config.version_source import VersionSource, parse_source
from tests.apps.versioned import Rollout, versioned_app
from tests.fix_pytester import without_trace
from tests.fix_servers import serve_in_thread

SCHEMA = json.loads((files("pytest_deploysmoke") / "schemas" / "summary-1.schema.json").read_text(encoding="utf-8"))

USER_CHECK = """
import pytest

@pytest.mark.phase("features")
def test_items(http):
    assert http.get("/items").status_code == 200
"""

#: (version_from, what the reports call it); None: the default, the health answer's JSON version.
SOURCES = [
    pytest.param(None, "JSON $.version of GET /health", id="default"),
    pytest.param("json:/meta:$.build.version", "JSON $.build.version of GET /meta", id="json"),
    pytest.param("header:X-App-Version", "header X-App-Version of GET /health", id="header"),
    pytest.param("header:/meta:X-Build", "header X-Build of GET /meta", id="header-with-path"),
    pytest.param("openapi", "info.version of GET /openapi.json", id="openapi"),
    pytest.param("openapi:/api/v2/openapi.json", "info.version of GET /api/v2/openapi.json", id="openapi-with-path"),
    pytest.param(r"regex:/about:build: v(\S+) \(", r"regex 'build: v(\S+) \(' over the body of GET /about", id="regex"),
]


@pytest.fixture
def serve() -> Iterator[Callable[[Rollout], str]]:
    """Serve the versioned stand-in for a rollout, on loopback; return its base URL."""
    with ExitStack() as stack:

        def start(rollout: Rollout) -> str:
            return stack.enter_context(serve_in_thread(versioned_app(rollout), "versioned"))

        yield start


def config(url: str, *lines: str, version_from: str | None = None) -> str:
    """A target 'prod' on *url* with the extra key *lines*; version_from as a TOML literal string."""
    keys = [f'base_url = "{url}"', *lines]
    if version_from is not None:
        keys.append(f"version_from = '{version_from}'")
    return "[targets.prod]\n" + "\n".join(keys) + "\n"


def message_of(document: dict[str, Any]) -> str:
    """The message of deploysmoke::version in a JSON summary, without the trace note a failed one ends with."""
    [check] = [check for check in document["checks"] if check["nodeid"] == "deploysmoke::version"]
    message = str(check["message"])
    return without_trace(message) if check["outcome"] == "failed" else message


def summary_of(pytester: pytest.Pytester) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((pytester.path / "summary.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    return document


@pytest.mark.parametrize(("version_from", "described"), SOURCES)
def test_version_from_each_source_passes_and_is_reported(
    pytester: pytest.Pytester, serve: Callable[[Rollout], str], version_from: str | None, described: str
) -> None:
    """The built-in check reads the expected version where version_from says; the summary names the source."""
    url = serve(Rollout("2.4.0"))
    pytester.makefile(".toml", deploysmoke=config(url, 'version = "2.4.0"', version_from=version_from))
    pytester.makepyfile(test_items=USER_CHECK)
    result = pytester.runpytest("--deploy-target=prod", "--deploy-json=summary.json", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            f"deploysmoke: version 2.4.0 expected, read from {described} by deploysmoke::version",
            "*deploysmoke::version PASSED*",
            f"  version 2.4.0 expected and reported ({described})",
            "deploysmoke verdict: GO*",
        ]
    )
    document = summary_of(pytester)
    assert document["versions"] == {"expected": "2.4.0", "reported": "2.4.0", "source": described}
    check = next(check for check in document["checks"] if check["nodeid"] == "deploysmoke::version")
    assert (check["phase"], check["title"]) == ("health", "The deployed version is 2.4.0")
    assert [call["action"] for call in check["calls"]] == [described.rpartition(" of ")[2]]


@pytest.mark.parametrize(("version_from", "described"), SOURCES)
def test_other_version_from_each_source_fails_naming_both(
    pytester: pytest.Pytester, serve: Callable[[Rollout], str], version_from: str | None, described: str
) -> None:
    """An old version still answering fails the check with both versions and the source; the gate stops the rest."""
    url = serve(Rollout("2.3.9"))
    pytester.makefile(".toml", deploysmoke=config(url, 'version = "2.4.0"', version_from=version_from))
    pytester.makepyfile(test_items=USER_CHECK)
    result = pytester.runpytest("--deploy-target=prod", "--deploy-json=summary.json", "-v")
    result.assert_outcomes(failed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*deploysmoke::version FAILED*", "deploysmoke verdict: NO-GO*"])
    result.stdout.no_fnmatch_line("*Traceback*")
    assert message_of(summary_of(pytester)) == (
        f"version 2.3.9 answered, expected 2.4.0 ({described}); "
        "check that the release reached target 'prod', or correct version"
    )


#: (version_from, health_path, what came back) against the plain stand-in, which publishes its
#: version only as the JSON version of /health.
ABSENT = [
    pytest.param(None, "/items", "GET /items answered 200 with no $.version in its JSON: [[]{*}]", id="default"),
    pytest.param(
        "json:/health:$.build.version",
        "/health",
        'GET /health answered 200 with no $.build.version in its JSON: {"status":"ok","version":"1.2.3"}',
        id="json",
    ),
    pytest.param(
        "header:X-App-Version",
        "/health",
        "GET /health answered 200 without header X-App-Version (headers: content-length, content-type, date, server)",
        id="header",
    ),
    pytest.param(
        "header:/items:X-Build",
        "/health",
        "GET /items answered 200 without header X-Build (headers: content-length, content-type, date, server)",
        id="header-with-path",
    ),
    pytest.param(
        "openapi", "/health", "GET /openapi.json answered 404 with a body that is not JSON: Not Found", id="openapi"
    ),
    pytest.param(
        "openapi:/api/v2/openapi.json",
        "/health",
        "GET /api/v2/openapi.json answered 404 with a body that is not JSON: Not Found",
        id="openapi-with-path",
    ),
    pytest.param(
        r"regex:/health:build: v(\S+)",
        "/health",
        'GET /health answered 200 with no match in its body: {"status":"ok","version":"1.2.3"}',
        id="regex",
    ),
]


@pytest.mark.parametrize(("version_from", "health_path", "came_back"), ABSENT)
def test_absent_version_fails_saying_where_it_looked(
    pytester: pytest.Pytester, standin_url: str, version_from: str | None, health_path: str, came_back: str
) -> None:
    """No version where the source points fails the check: where it looked, what came back, and version_from."""
    pytester.makefile(
        ".toml",
        deploysmoke=config(
            standin_url, 'version = "2.4.0"', f'health_path = "{health_path}"', version_from=version_from
        ),
    )
    pytester.makepyfile(test_items=USER_CHECK)
    result = pytester.runpytest("--deploy-target=prod", "--deploy-json=summary.json")
    result.assert_outcomes(failed=1, skipped=1)
    source = parse_source(version_from, health_path) if version_from else VersionSource.default(health_path)
    assert fnmatch.fnmatchcase(
        message_of(summary_of(pytester)),
        f"no version found, expected 2.4.0: looked in {source.describe()}, {came_back}; "
        "set version_from to where the service publishes its version",
    )


def test_a_failing_service_is_not_blamed_on_version_from(pytester: pytest.Pytester, standin_url: str) -> None:
    """A 5xx where the version should be says the service is failing, not that version_from is wrong."""
    pytester.makefile(
        ".toml", deploysmoke=config(standin_url, 'version = "2.4.0"', version_from="json:/status/503:$.version")
    )
    pytester.makepyfile(test_items=USER_CHECK)
    result = pytester.runpytest("--deploy-target=prod", "--deploy-json=summary.json")
    result.assert_outcomes(failed=1, skipped=1)
    message = message_of(summary_of(pytester))
    assert message.startswith("no version found, expected 2.4.0: looked in JSON $.version of GET /status/503, ")
    assert message.endswith("; the service is failing, so it could not say its version: see the health checks")
    assert "version_from" not in message.split(";")[-1]


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_mismatch_is_no_go_in_every_artifact(
    pytester: pytest.Pytester, serve: Callable[[Rollout], str], xdist: list[str]
) -> None:
    """A version mismatch fails the health gate: NO-GO in the terminal, summary, ticket, JUnit XML and exit code."""
    url = serve(Rollout("2.3.9"))
    pytester.makefile(".toml", deploysmoke=config(url, 'version = "2.4.0"', version_from="header:X-App-Version"))
    pytester.makepyfile(
        test_items=USER_CHECK + '\n\n@pytest.mark.phase("health")\ndef test_health(http):\n    http.get("/health")\n'
    )
    result = pytester.runpytest(
        "--deploy-target=prod",
        "--deploy-json=summary.json",
        "--deploy-ticket=ticket.md",
        "--junitxml=junit.xml",
        *xdist,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    mismatch = "version 2.3.9 answered, expected 2.4.0 (header X-App-Version of GET /health)"
    result.stdout.fnmatch_lines([f"  {mismatch}", "deploysmoke verdict: NO-GO*"])

    document = summary_of(pytester)
    assert document["verdict"]["decision"] == "NO-GO"
    assert document["verdict"]["reasons"][0] == "gate 'health' failed (deploysmoke::version); later phases not run"
    assert any(mismatch in reason for reason in document["verdict"]["reasons"])
    assert document["versions"] == {
        "expected": "2.4.0",
        "reported": "2.3.9",
        "source": "header X-App-Version of GET /health",
    }

    ticket = (pytester.path / "ticket.md").read_text(encoding="utf-8")
    assert ticket.startswith("## ❌ NO-GO: prod, version 2.4.0 (reported 2.3.9), ")
    assert "| Version source | header X-App-Version of GET /health |" in ticket.splitlines()

    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.iterfind("properties/property")}
    assert properties["deploysmoke.verdict"] == "NO-GO"
    assert properties["deploysmoke.expected_version"] == "2.4.0"
    assert properties["deploysmoke.reported_version"] == "2.3.9"
    assert properties["deploysmoke.version_source"] == "header X-App-Version of GET /health"


def test_mismatch_read_by_a_check_is_no_go_without_the_builtin_one(
    pytester: pytest.Pytester, serve: Callable[[Rollout], str]
) -> None:
    """With deploysmoke::version deselected, a check that reads another version still makes the run NO-GO."""
    url = serve(Rollout("2.3.9"))
    pytester.makefile(".toml", deploysmoke=config(url, 'version = "2.4.0"', version_from="header:X-App-Version"))
    pytester.makepyfile(test_health='def test_health(http):\n    assert http.get("/health").status_code == 200\n')
    result = pytester.runpytest("--deploy-target=prod", "--deploy-json=summary.json", "-k", "not version")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    document = summary_of(pytester)
    assert document["verdict"]["decision"] == "NO-GO"
    assert document["verdict"]["reasons"] == [
        "version 2.3.9 answered, expected 2.4.0 (header X-App-Version of GET /health)"
    ]


def test_version_from_alone_reports_and_an_absent_version_only_warns(
    pytester: pytest.Pytester, serve: Callable[[Rollout], str]
) -> None:
    """Without an expected version the check reads and reports it; when there is none it skips, a warning."""
    url = serve(Rollout("2.4.0"))
    pytester.makefile(".toml", deploysmoke=config(url, version_from="header:/meta:X-Build"))
    pytester.makepyfile(test_items=USER_CHECK)
    result = pytester.runpytest("--deploy-target=prod", "--deploy-json=summary.json")
    result.assert_outcomes(passed=2)
    assert summary_of(pytester)["versions"] == {
        "expected": None,
        "reported": "2.4.0",
        "source": "header X-Build of GET /meta",
    }

    pytester.makefile(".toml", deploysmoke=config(url, version_from="header:/meta:X-Commit"))
    result = pytester.runpytest("--deploy-target=prod", "--deploy-json=summary.json", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "SKIPPED * no version found in header X-Commit of GET /meta: GET /meta answered 200 without header "
            "X-Commit (headers: *x-build); check version_from",
            "deploysmoke verdict: GO with warnings*",
        ]
    )
    assert summary_of(pytester)["versions"] == {"expected": None, "reported": None, "source": None}


def test_no_version_and_no_version_from_adds_no_check(pytester: pytest.Pytester, standin_url: str) -> None:
    """A target without version or version_from runs only the user's checks; a health GET still reports the version."""
    pytester.makefile(".toml", deploysmoke=config(standin_url))
    pytester.makepyfile(test_health='def test_health(http):\n    assert http.get("/health").status_code == 200\n')
    result = pytester.runpytest("--deploy-target=prod", "--deploy-json=summary.json", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*deploysmoke::version*")
    assert summary_of(pytester)["versions"] == {
        "expected": None,
        "reported": "1.2.3",
        "source": "JSON $.version of GET /health",
    }


def test_selection_and_collect_only_treat_it_as_a_health_smoke_check(
    pytester: pytest.Pytester, serve: Callable[[Rollout], str]
) -> None:
    """--collect-only lists it without a request; -m smoke keeps it; -m 'not smoke' and --deploy-phase drop it."""
    rollout = Rollout("2.4.0")
    url = serve(rollout)
    pytester.makefile(".toml", deploysmoke=config(url, 'version = "2.4.0"'))
    pytester.makepyfile(test_items=USER_CHECK)

    collected = pytester.runpytest("--deploy-target=prod", "--collect-only", "-q")
    collected.stdout.fnmatch_lines(["deploysmoke::version", "test_items.py::test_items"])
    assert rollout.served == 0

    pytester.runpytest("--deploy-target=prod", "-m", "smoke").assert_outcomes(passed=2)
    assert rollout.served == 1
    pytester.runpytest("--deploy-target=prod", "--deploy-phase=features").assert_outcomes(passed=1)
    pytester.runpytest("--deploy-target=prod", "-m", "not smoke").assert_outcomes(deselected=2)
    assert rollout.served == 1


# --------------------------------------------------------------------------- wait_for_version


@pytest.mark.parametrize(
    ("version_from", "requests_per_answer"),
    [("header:X-App-Version", 1), ("json:/meta:$.build.version", 2)],
    ids=["on-the-health-answer", "from-another-path"],
)
def test_wait_for_version_waits_until_the_new_release_answers(
    pytester: pytest.Pytester, serve: Callable[[Rollout], str], version_from: str, requests_per_answer: int
) -> None:
    """The readiness wait goes on past 2xx answers of the old release and lets the run start once 2.4.0 answers."""
    rollout = Rollout("2.3.9", "2.4.0", after=3 * requests_per_answer)  # three answers of 2.3.9 first
    url = serve(rollout)
    pytester.makefile(
        ".toml",
        deploysmoke=config(
            url, 'version = "2.4.0"', "wait_ready = 60", "wait_for_version = true", version_from=version_from
        ),
    )
    pytester.makepyfile(test_items=USER_CHECK)
    result = pytester.runpytest("--deploy-target=prod", "--deploy-json=summary.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["deploysmoke: version 2.4.0 expected, read from * by deploysmoke::version; the readiness wait waits for it"]
    )
    assert rollout.served == 4 * requests_per_answer + 1  # four answers while waiting, one for deploysmoke::version
    document = summary_of(pytester)
    assert (document["verdict"]["decision"], document["versions"]["reported"]) == ("GO", "2.4.0")


def test_version_that_never_arrives_stops_the_run_naming_what_answered(
    pytester: pytest.Pytester, serve: Callable[[Rollout], str]
) -> None:
    """When the new release never answers, no check runs; the reason says how many answers carried which version."""
    rollout = Rollout("2.3.9")
    url = serve(rollout)
    pytester.makefile(
        ".toml",
        deploysmoke=config(
            url, 'version = "2.4.0"', "wait_ready = 0.5", "wait_for_version = true", version_from="header:X-App-Version"
        ),
    )
    pytester.makepyfile(test_items=USER_CHECK)
    result = pytester.runpytest("--deploy-target=prod", "--deploy-json=summary.json", "--deploy-ticket=ticket.md")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes()
    answers = rollout.served
    assert answers >= 1
    detail = (
        f"waited 0.5 s for version 2.4.0 from header X-App-Version of GET /health; "
        f"{answers} answer{'s' if answers > 1 else ''}, last saw 2.3.9 ({answers} of {answers}); "
        "check that the release reaches every instance, or correct version"
    )
    result.stdout.fnmatch_lines([f"deploysmoke: target 'prod' not ready: {detail}"])
    result.stdout.no_fnmatch_line("*Traceback*")
    document = summary_of(pytester)
    assert document["verdict"]["decision"] == "NO-GO"
    assert document["not_ready"] == detail
    assert document["verdict"]["reasons"] == [f"target 'prod' not ready: {detail}"]
    assert (pytester.path / "ticket.md").read_text(encoding="utf-8").startswith("## ❌ NO-GO (target not ready): prod")


def test_wait_for_version_without_a_version_is_a_usage_error(pytester: pytest.Pytester, standin_url: str) -> None:
    """wait_for_version needs the version to wait for: one line, before any check."""
    pytester.makefile(".toml", deploysmoke=config(standin_url, "wait_ready = 5", "wait_for_version = true"))
    pytester.makepyfile(test_items=USER_CHECK)
    result = pytester.runpytest("--deploy-target=prod")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: deploysmoke.toml: [targets.prod] wait_for_version is true but version is not set; "
            'set version = "..." to the release to wait for, or remove wait_for_version'
        ]
    )
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_version_check_behind_a_failed_gate_is_skipped_like_any_check(
    pytester: pytest.Pytester, standin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed preflight gate skips deploysmoke::version with the gate's reason, without an internal error."""
    monkeypatch.delenv("DEPLOYSMOKE_UNSET_FOR_TEST", raising=False)
    pytester.makefile(
        ".toml",
        deploysmoke=config(standin_url, 'version = "1.2.3"', 'required_env = ["DEPLOYSMOKE_UNSET_FOR_TEST"]'),
    )
    pytester.makepyfile(test_items=USER_CHECK)
    result = pytester.runpytest("--deploy-target=prod", "-rs")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1, skipped=2)
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]1[]] deploysmoke.toml:1: gate 'preflight' failed (deploysmoke::required_env)*"]
    )
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
