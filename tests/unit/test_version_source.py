"""Where a target publishes its version: ``version_from`` parsed and validated, answers read, waits tallied."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_deploysmoke.clients.version import VersionReading, VersionTally, read
from pytest_deploysmoke.config.model import Target
from pytest_deploysmoke.config.parse import build_target, load_config
from pytest_deploysmoke.config.version_source import VersionSource, VersionSourceError, parse_source
from pytest_deploysmoke.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "source", "described"),
    [
        (
            "json:/meta:$.build.version",
            VersionSource("json", "/meta", "$.build.version"),
            "JSON $.build.version of GET /meta",
        ),
        (
            "json:$.app.version",
            VersionSource("json", "/healthz", "$.app.version"),
            "JSON $.app.version of GET /healthz",
        ),
        (
            "header:X-App-Version",
            VersionSource("header", "/healthz", "X-App-Version"),
            "header X-App-Version of GET /healthz",
        ),
        ("header:/version:X-Build", VersionSource("header", "/version", "X-Build"), "header X-Build of GET /version"),
        ("openapi", VersionSource("openapi", "/openapi.json", "$.info.version"), "info.version of GET /openapi.json"),
        (
            "openapi:/api/v2/openapi.json",
            VersionSource("openapi", "/api/v2/openapi.json", "$.info.version"),
            "info.version of GET /api/v2/openapi.json",
        ),
        (
            r"regex:/about:build: v(\S+) \(",
            VersionSource("regex", "/about", r"build: v(\S+) \("),
            r"regex 'build: v(\S+) \(' over the body of GET /about",
        ),
    ],
)
def test_each_form_names_its_request_and_what_it_reads(text: str, source: VersionSource, described: str) -> None:
    """Every form of version_from becomes one GET and what to read in its answer; a regex keeps its colons."""
    assert parse_source(text, "/healthz") == source
    assert source.describe() == described


def test_default_source_is_the_health_answers_json_version() -> None:
    """Without version_from the version is the ``version`` field of the health answer, as before."""
    assert VersionSource.default("/healthz").describe() == "JSON $.version of GET /healthz"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("jsn:/v:$.v", 'is \'jsn:/v:$.v\'; expected "json:PATH:$.dotted.path", "header:NAME", '),
        ("json:/meta", "is 'json:/meta': '/meta' is not a JSON path; expected \"json:PATH:$.dotted.path\""),
        (
            "json:meta:$.v",
            "is 'json:meta:$.v': its path 'meta' does not start with '/'; expected a path such as /health",
        ),
        ("header:", "is 'header:': '' is not a header name; expected \"header:NAME\" or \"header:PATH:NAME\""),
        ("header:/v:X App", "is 'header:/v:X App': 'X App' is not a header name"),
        ("openapi:docs.json", "its path 'docs.json' does not start with '/'"),
        ("regex:/about", "is 'regex:/about', which has no pattern; expected \"regex:PATH:PATTERN\""),
        ("regex:about:v(.+)", "its path 'about' does not start with '/'"),
        ("regex:/about:v(\\d+", "regex 'v(\\d+' does not compile (missing ), unterminated subpattern at position 1)"),
        ("regex:/about:v\\d+", "regex 'v\\d+' has no group; put the version in parentheses"),
    ],
)
def test_bad_form_says_what_is_wrong_and_what_is_expected(text: str, message: str) -> None:
    """A malformed version_from names the problem and the forms it may take."""
    with pytest.raises(VersionSourceError) as excinfo:
        parse_source(text, "/health")
    assert message in str(excinfo.value)


HEADERS = {"content-type": "application/json", "x-app-version": "2.4.0"}


@pytest.mark.parametrize(
    ("text", "status", "headers", "body", "reading"),
    [
        ("json:$.version", 200, {}, '{"version": "2.4.0"}', VersionReading("2.4.0")),
        ("json:/m:$.builds.1.v", 200, {}, '{"builds": [{"v": "1"}, {"v": "2.4.0"}]}', VersionReading("2.4.0")),
        ("json:$.version", 200, {}, '{"version": 3}', VersionReading("3")),
        ("json:$.version", 200, {}, "true", VersionReading("", "200 with no $.version in its JSON: true")),
        ("json:$.version", 503, {}, "down", VersionReading("", "503 with a body that is not JSON: down")),
        (
            "json:$.version",
            200,
            {},
            '{"version": {"a": 1}}',
            VersionReading("", '200 with $.version = {"a": 1}, not a version'),
        ),
        ("header:X-App-Version", 200, HEADERS, "", VersionReading("2.4.0")),
        (
            "header:X-Build",
            200,
            HEADERS,
            "",
            VersionReading("", "200 without header X-Build (headers: content-type, x-app-version)"),
        ),
        ("openapi", 200, {}, '{"openapi": "3.1.0", "info": {"version": "2.4.0"}}', VersionReading("2.4.0")),
        (
            "openapi",
            404,
            {},
            '{"detail": "Not Found"}',
            VersionReading("", '404 with no $.info.version in its JSON: {"detail": "Not Found"}'),
        ),
        ("regex:/about:build: v(\\S+)", 200, {}, "<p>build: v2.4.0</p>", VersionReading("2.4.0</p>")),
        ("regex:/about:build: v([\\d.]+)", 200, {}, "<p>build: v2.4.0</p>", VersionReading("2.4.0")),
        (
            "regex:/about:build: v([\\d.]+)",
            200,
            {},
            "",
            VersionReading("", "200 with no match in its body: (empty body)"),
        ),
    ],
)
def test_an_answer_gives_its_version_or_what_came_instead(
    text: str, status: int, headers: dict[str, str], body: str, reading: VersionReading
) -> None:
    """Each source reads its part of the answer; without a version, the reading says what the answer held."""
    assert read(parse_source(text, "/health"), status, headers, body) == reading


def test_tally_counts_the_answers_and_names_the_last() -> None:
    """A wait's tally says how many answers came, the last version seen and how many carried it."""
    tally = VersionTally()
    assert tally.describe() == "no answer carried a version"
    for version in ("2.3.9", "2.3.9", "2.4.1", "2.3.9"):
        tally.add(VersionReading(version))
    assert tally.describe() == "4 answers, last saw 2.3.9 (3 of 4)"
    tally.add(VersionReading("", "200 without header X-App-Version"))
    assert tally.describe() == "5 answers, last saw no version (1 of 5): 200 without header X-App-Version"


# --------------------------------------------------------------------------- in the config file


def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Target:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "deploysmoke.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return build_target(load_config(path), "prod", {})


def test_config_keys_give_the_source_and_the_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """version_from and wait_for_version reach the Target; without them the health answer's JSON version is read."""
    target = build(
        tmp_path,
        monkeypatch,
        """
        [targets.prod]
        base_url = "https://example.com"
        health_path = "/healthz"
        version = "2.4.0"
        version_from = "header:X-App-Version"
        wait_for_version = true
        """,
    )
    assert target.version_source == VersionSource("header", "/healthz", "X-App-Version")
    assert target.checks_version and target.wait_for_version
    plain = build(tmp_path, monkeypatch, '[targets.prod]\nbase_url = "https://example.com"\n')
    assert plain.version_from is None and not plain.checks_version and not plain.wait_for_version
    assert plain.version_source.describe() == "JSON $.version of GET /health"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            'version_from = "header"',
            "deploysmoke.toml: [targets.prod] version_from is 'header': '' is not a header name; "
            'expected "header:NAME" or "header:PATH:NAME"',
        ),
        (
            "version_from = 'regex:/about:v\\d+'",
            "deploysmoke.toml: [targets.prod] version_from regex 'v\\d+' has no group; "
            "put the version in parentheses, e.g. 'version (\\d+\\.\\d+\\.\\d+)'",
        ),
        (
            "version_from = 'regex:/about:v(\\d+'",
            "deploysmoke.toml: [targets.prod] version_from regex 'v(\\d+' does not compile "
            "(missing ), unterminated subpattern at position 1); fix the pattern",
        ),
        (
            'version_from = "openapi:openapi.json"',
            "deploysmoke.toml: [targets.prod] version_from is 'openapi:openapi.json': its path 'openapi.json' "
            "does not start with '/'; expected a path such as /health",
        ),
        ("version_from = 2", "deploysmoke.toml: [targets.prod] version_from is int 2; expected a string"),
        (
            "wait_for_version = true",
            "deploysmoke.toml: [targets.prod] wait_for_version is true but version is not set; "
            'set version = "..." to the release to wait for, or remove wait_for_version',
        ),
        (
            'version = "${RELEASE_VERSION:-}"\nwait_for_version = true',
            "deploysmoke.toml: [targets.prod] wait_for_version is true but version is empty; "
            'set version = "..." to the release to wait for, or remove wait_for_version',
        ),
        (
            'wait_for_version = "yes"',
            "deploysmoke.toml: [targets.prod] wait_for_version is 'yes'; expected true or false",
        ),
    ],
)
def test_bad_version_keys_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: str, message: str
) -> None:
    """A malformed version_from, or wait_for_version without a version, is one line naming the key and the fix."""
    with pytest.raises(ConfigError) as excinfo:
        build(tmp_path, monkeypatch, f'[targets.prod]\nbase_url = "https://example.com"\n{keys}\n')
    assert str(excinfo.value) == message
