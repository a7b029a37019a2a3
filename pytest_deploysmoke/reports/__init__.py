"""Report writers: each renders the run's one Verdict, with nothing secret in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_deploysmoke.config.settings import RunSettings
from pytest_deploysmoke.results.verdict import Verdict
from pytest_deploysmoke.run import plugins


def register_writers(config: pytest.Config, settings: RunSettings) -> None:
    """On the controller: check the report paths, then register the plugin objects that report.

    Raises:
        ConfigError: a report path cannot be written (checked before any check runs).
    """
    if config.option.collectonly:  # nothing runs, so there is nothing to decide or report
        return
    from pytest_deploysmoke.reports.terminal import TerminalReport
    from pytest_deploysmoke.results.summary import RunSummary

    check_output_paths(config)
    check_metrics_options(config)
    plugins.register(config, RunSummary(config, settings), "deploysmoke-summary")
    plugins.register(config, TerminalReport(), "deploysmoke-terminal")
    if config.option.deploysmoke_ticket or config.option.deploysmoke_json:
        plugins.register(config, ReportFiles(), "deploysmoke-files")
    if config.getoption("xmlpath", None):
        from pytest_deploysmoke.reports.junit import JunitProperties

        plugins.register(config, JunitProperties(), "deploysmoke-junit")
    if config.pluginmanager.hasplugin("html") and config.getoption("htmlpath", None):
        from pytest_deploysmoke.reports.html import HtmlReport

        plugins.register(config, HtmlReport(config, settings), "deploysmoke-html")
    if config.option.deploysmoke_pushgateway or config.option.deploysmoke_metrics:
        from pytest_deploysmoke.config.settings import get_redactor
        from pytest_deploysmoke.reports.prometheus import MetricsExport  # imports prometheus_client

        export = MetricsExport(
            config.option.deploysmoke_pushgateway, config.option.deploysmoke_metrics, get_redactor(config).redact
        )
        plugins.register(config, export, "deploysmoke-metrics")


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


def check_metrics_options(config: pytest.Config) -> None:
    """Refuse, before any check runs, a ``--deploy-pushgateway`` that is not an http(s) URL and a
    ``--deploy-metrics`` path whose folder does not exist (node_exporter reads a folder it was given).

    The URL's password joins the run's secrets.

    Raises:
        ConfigError: one of the two is unusable.
    """
    import os
    from urllib.parse import urlsplit

    from pytest_deploysmoke.config.redaction import redact_url, url_password
    from pytest_deploysmoke.config.settings import get_redactor
    from pytest_deploysmoke.errors import ConfigError

    url = config.option.deploysmoke_pushgateway
    if url:
        get_redactor(config).add(url_password(url))
        try:
            parts = urlsplit(url)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:  # a port that is not a number from 0 to 65535
            usable = False
        if not usable:
            raise ConfigError(
                None,
                "--deploy-pushgateway",
                f"is '{redact_url(url)}'",
                "expected an http or https URL such as 'http://127.0.0.1:9091'",
            )
    value = config.option.deploysmoke_metrics
    if value:
        path = Path(value)
        if path.is_dir():
            raise ConfigError(
                None,
                "--deploy-metrics",
                f"'{value}' is a directory",
                "give a file path, e.g. textfile/deploysmoke.prom",
            )
        folder = path.parent
        if not folder.is_dir():
            raise ConfigError(
                None,
                "--deploy-metrics",
                f"folder '{folder}' does not exist",
                "give a path in an existing folder, such as node_exporter's --collector.textfile.directory",
            )
        if not os.access(folder, os.W_OK):
            raise ConfigError(None, "--deploy-metrics", f"folder '{folder}' is not writable", "give a writable path")


class ReportFiles:
    """Writes ``--deploy-ticket`` and ``--deploy-json`` once the verdict is decided (controller only)."""

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from pytest_deploysmoke.results.summary import get_verdict

        verdict = get_verdict(session.config)
        if verdict is not None:
            write_files(session.config, verdict)


def write_files(config: pytest.Config, verdict: Verdict) -> None:
    """Write the files the options asked for: the ticket and the JSON summary."""
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
