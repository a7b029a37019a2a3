"""JUnit: the verdict as properties of the test suite, beside each check's phase and calls."""

from __future__ import annotations

import pytest

from pytest_deploysmoke.reports.comparison import counts
from pytest_deploysmoke.results.verdict import Verdict


class JunitProperties:
    """Puts the verdict on ``--junitxml``'s ``<testsuite>`` before junitxml writes its file."""

    @pytest.hookimpl(tryfirst=True)  # junitxml writes the file from its own, plain, sessionfinish
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from pytest_deploysmoke.results.summary import get_verdict

        verdict = get_verdict(session.config)
        if verdict is not None:
            add_verdict(session.config, verdict)


def add_verdict(config: pytest.Config, verdict: Verdict) -> None:
    """Put the decision and its headline on ``--junitxml``'s ``<testsuite>`` properties.

    pytest's junitxml writes its file in its own session-finish hook, after this one; CI tools
    that read JUnit then show the verdict beside the checks.
    """
    from _pytest.junitxml import xml_key  # the documented record_testsuite_property uses the same object

    xml = config.stash.get(xml_key, None)
    if xml is not None:
        for name, value in verdict_properties(verdict):
            xml.add_global_property(name, value)


def verdict_properties(verdict: Verdict) -> list[tuple[str, str]]:
    """The ``<testsuite>`` properties of *verdict*, in order: (name, value), a name repeated for each of a list."""
    properties = [
        ("deploysmoke.verdict", verdict.decision),
        ("deploysmoke.verdict.headline", verdict.headline()),
        ("deploysmoke.partial", "true" if verdict.partial else "false"),
        ("deploysmoke.selection", verdict.selection.describe()),
    ]
    for name, value in (
        ("deploysmoke.expected_version", verdict.run.expected_version),
        ("deploysmoke.reported_version", verdict.run.reported_version),
        ("deploysmoke.version_source", verdict.run.version_source),
    ):
        if value:
            properties.append((name, value))
    if verdict.ending.interrupted:
        properties.append(("deploysmoke.interrupted", verdict.ending.interrupted))
    properties += [("deploysmoke.held_back", check.nodeid) for check in verdict.held_back]
    properties += [
        ("deploysmoke.production_write", f"{check.nodeid}: {check.writes_text()}")
        for check in verdict.production_writes
    ]
    comparison = verdict.comparison
    if comparison is not None:
        properties.append(("deploysmoke.comparison.baseline", comparison.baseline))
        properties.append(("deploysmoke.comparison", counts(comparison)))
        properties += [("deploysmoke.comparison.regression", line) for line in comparison.regression_lines()]
    return properties
