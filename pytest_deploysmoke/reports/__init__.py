"""Report writers: each renders the run's one Verdict, with nothing secret in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_deploysmoke.config.settings import RunSettings
from pytest_deploysmoke.results.verdict import Verdict


def register_writers(config: pytest.Config, settings: RunSettings) -> None:
    """On the controller: check the report paths, then register the plugin objects that report.

    Raises:
        ConfigError: a report path cannot be written (checked before any check runs).
    """
    if config.option.collectonly:  # nothing runs, so there is nothing to decide or report
        return
    from pytest_deploysmoke.reports.terminal import VerdictLine
    from pytest_deploysmoke.results.summary import RunSummary

    check_output_paths(config)
    config.pluginmanager.register(RunSummary(config, settings), "deploysmoke-summary")
    config.pluginmanager.register(VerdictLine(), "deploysmoke-verdict-line")
    if config.pluginmanager.hasplugin("html") and config.getoption("htmlpath", None):
        from pytest_deploysmoke.reports.html import HtmlReport

        config.pluginmanager.register(HtmlReport(config, settings), "deploysmoke-html")


def check_output_paths(config: pytest.Config) -> None:
    """Refuse, before any check runs, a report path that cannot be written.

    Raises:
        ConfigError: the path is a directory, or its folder cannot be created or written.
    """
    import os

    from pytest_deploysmoke.errors import ConfigError

    for option, value in (
        ("--deploy-ticket", config.option.deploysmoke_ticket),
        ("--deploy-json", config.option.deploysmoke_json),
    ):
        if not value:
            continue
        path = Path(value)
        if path.is_dir():
            raise ConfigError(None, option, f"'{value}' is a directory", "give a file path, e.g. reports/smoke.md")
        folder = path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                None, option, f"folder '{folder}' cannot be created ({exc.strerror})", "give a writable path"
            ) from None
        if not os.access(folder, os.W_OK):
            raise ConfigError(None, option, f"folder '{folder}' is not writable", "give a writable path")


def write_files(config: pytest.Config, verdict: Verdict) -> None:
    """Write the files the options asked for (controller only): the ticket and the JSON summary."""
    ticket = config.option.deploysmoke_ticket
    if ticket:
        from pytest_deploysmoke.reports.ticket import render_ticket

        _write(Path(ticket), render_ticket(verdict))
    summary = config.option.deploysmoke_json
    if summary:
        from pytest_deploysmoke.reports.json_summary import render_json

        _write(Path(summary), render_json(verdict))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
