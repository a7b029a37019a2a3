"""Command-line options of the deploysmoke group."""

from __future__ import annotations

import os

import pytest

# Help text follows pytest-xdist's rule: start with a capital, end with a period only when
# there are several sentences.


def add_options(parser: pytest.Parser) -> None:
    """Register the ``--deploy-*`` options under the ``deploysmoke`` group."""
    group = parser.getgroup("deploysmoke", "post-deploy smoke checks")
    group.addoption(
        "--deploy-target",
        dest="deploysmoke_target",
        metavar="NAME",
        default=None,
        help="Deploy target to check, from deploysmoke.toml (default: $DEPLOYSMOKE_TARGET). "
        "Without a target the plugin is inert.",
    )
    group.addoption(
        "--deploy-config",
        dest="deploysmoke_config",
        metavar="PATH",
        default=None,
        help="Config file (default: deploysmoke.toml, else [tool.deploysmoke] in pyproject.toml, in the rootdir)",
    )
    group.addoption(
        "--deploy-base-url",
        dest="deploysmoke_base_url",
        metavar="URL",
        default=None,
        help="Override the selected target's base_url. "
        "Without --deploy-target it checks an ad-hoc target named 'adhoc'.",
    )
    group.addoption(
        "--deploy-phase",
        dest="deploysmoke_phase",
        metavar="NAME[,NAME]",
        action="append",
        default=[],
        help="Run only the checks of these phases (comma-separated, repeatable)",
    )
    group.addoption(
        "--allow-destructive",
        dest="deploysmoke_allow_destructive",
        action="store_true",
        default=False,
        help="Run checks marked destructive even on a production target",
    )
    group.addoption(
        "--deploy-ticket",
        dest="deploysmoke_ticket",
        metavar="PATH",
        default=None,
        help="Write the release-ticket checklist (Markdown) to PATH",
    )
    group.addoption(
        "--deploy-json",
        dest="deploysmoke_json",
        metavar="PATH",
        default=None,
        help="Write the JSON summary (schema 1) to PATH",
    )
    group.addoption(
        "--deploy-baseline",
        dest="deploysmoke_baseline",
        metavar="PATH",
        default=None,
        help="Judge each endpoint against a previous run of the same target: the JSON summary it wrote "
        "with --deploy-json (needs the compare extra)",
    )
    group.addoption(
        "--deploy-pushgateway",
        dest="deploysmoke_pushgateway",
        metavar="URL",
        default=None,
        help="Push the run's verdict and figures to the Prometheus Pushgateway at URL "
        "(job deploysmoke, grouped by target)",
    )
    group.addoption(
        "--deploy-metrics",
        dest="deploysmoke_metrics",
        metavar="PATH",
        default=None,
        help="Write the same metrics to PATH in the Prometheus text format (node_exporter's textfile collector)",
    )
    group.addoption(
        "--deploy-wait",
        dest="deploysmoke_wait",
        metavar="SECONDS",
        type=float,
        default=None,
        help="Wait up to SECONDS for health_path to answer 2xx before any check (overrides wait_ready)",
    )
    group.addoption(
        "--deploy-samples",
        dest="deploysmoke_samples",
        metavar="N",
        type=int,
        default=None,
        help="Requests each latency() measurement sends unless the check says (overrides the target's samples)",
    )
    group.addoption(
        "--deploy-watch",
        dest="deploysmoke_watch",
        metavar="DURATION",
        default=None,
        help="After the checks, watch the target this long (e.g. 1h, 6s; 0 is off) and roll back when a rule trips "
        "(overrides [watch] duration)",
    )
    group.addoption(
        "--deploy-watch-every",
        dest="deploysmoke_watch_every",
        metavar="INTERVAL",
        default=None,
        help="One line and one rollback-rule check per INTERVAL of the watch (e.g. 15m; overrides [watch] every)",
    )
    group.addoption(
        "--deploy-compare",
        dest="deploysmoke_compare",
        metavar="TARGET",
        default=None,
        help="Judge the selected target (the canary) against TARGET from the same config (the stable fleet), live: "
        "the watch window samples both at the same moments and compares their latencies and errors each interval "
        "and at its end. Needs a watch window and scipy (the compare extra).",
    )
    group.addoption(
        "--deploy-confirm",
        dest="deploysmoke_confirm",
        metavar="ID[=NOTE]",
        action="append",
        default=[],
        help="Mark the manual checklist item ID ([manual.ID]) as done, with an optional note; records who and "
        "when (repeatable; a later note for the same ID wins)",
    )
    group.addoption(
        "--deploy-show-config",
        dest="deploysmoke_show_config",
        action="store_true",
        help="Print the selected target as the run resolves it (inheritance merged, ${VAR} expanded, "
        "secrets masked) as TOML, and exit without running checks",
    )
    group.addoption(
        "--deploy-browser-path",
        dest="deploysmoke_browser_path",
        metavar="PATH",
        default=os.environ.get(BROWSER_PATH_ENV) or None,
        help="The Chromium that pytest-playwright launches for browser checks, e.g. /usr/bin/chromium "
        f"(overrides [ui] browser_path; default: ${BROWSER_PATH_ENV})",
    )


#: The environment variable that selects a target when --deploy-target is absent.
TARGET_ENV = "DEPLOYSMOKE_TARGET"
#: The environment variable behind --deploy-browser-path.
BROWSER_PATH_ENV = "DEPLOYSMOKE_BROWSER_PATH"
#: The base URL the user gave pytest-base-url (--base-url or $PYTEST_BASE_URL), read before any
#: plugin's pytest_configure copies the ini value into the same option.
user_base_url_key = pytest.StashKey["str | None"]()


def target_requested(config: pytest.Config) -> bool:
    """Whether this run selects a deploy target at all (cheap: reads no file)."""
    option = config.option
    return bool(
        getattr(option, "deploysmoke_target", None)
        or os.environ.get(TARGET_ENV)
        or getattr(option, "deploysmoke_base_url", None)
    )
