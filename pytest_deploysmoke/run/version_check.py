"""Built-in health check: the version the target publishes (``version_from``) is the one expected."""

from __future__ import annotations

import pytest

from pytest_deploysmoke.clients.version import read_answer
from pytest_deploysmoke.config.settings import RunSettings, get_redactor
from pytest_deploysmoke.config.version_source import mismatch
from pytest_deploysmoke.errors import unchecked
from pytest_deploysmoke.results.records import reported_version_key
from pytest_deploysmoke.run import builtin

#: The phase the check joins when the config has it; else the first phase.
VERSION_PHASE = "health"


class VersionCheck(builtin.BuiltinCheck):
    """Reads the version where the target publishes it; fails when it is not the expected ``version``."""

    about = "version of target '{target}'"

    def runtest(self) -> None:
        from pytest_deploysmoke.clients.http import make_client

        target, source = self.target, self.target.version_source
        with make_client(self.config, target) as client:
            response = client.get(source.path)
        reading = read_answer(source, response)
        self.stash[reported_version_key] = reading.version
        redact = get_redactor(self.config).redact
        if not reading.version:
            came = f"{source.request} answered {reading.instead}"
            failing = response.status_code >= 500  # a failing service, not a wrong version_from
            if not target.version:
                hint = "the service is failing, see the health checks" if failing else "check version_from"
                pytest.skip(redact(f"no version found in {source.describe()}: {came}; {hint}"))
            hint = (
                "the service is failing, so it could not say its version: see the health checks"
                if failing
                else "set version_from to where the service publishes its version"
            )
            raise unchecked(
                redact(f"no version found, expected {target.version}: looked in {source.describe()}, {came}; {hint}")
            )
        if target.version and reading.version != target.version:
            raise pytest.fail.Exception(
                redact(
                    f"{mismatch(target.version, reading.version, source.describe())}; "
                    f"check that the release reached target '{target.name}', or correct version"
                ),
                pytrace=False,
            )


def add_version_check(session: pytest.Session, settings: RunSettings, items: list[pytest.Item]) -> None:
    """Put the version check among the health checks when the target sets ``version`` or ``version_from``.

    It goes in before the items are ordered by phase (a stable sort), so it runs first in its
    phase; ``-m``, ``-k`` and ``--deploy-phase`` select it like any check marked ``smoke``.
    """
    target = settings.target
    if not target.checks_version:
        return
    title = f"The deployed version is {target.version}" if target.version else "The deployed version is reported"
    builtin.add(session, settings, items, VersionCheck, name="version", phase=VERSION_PHASE, checklist=title)
