"""The run's resolved settings: the target with the command line folded in, stash keys and the report header.

The command-line options override the target's settings once, here: the Target a run hands
out (``deploy_target``, ``settings.target``) carries the values in force, so no caller picks
between an option and the config file.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pytest

from pytest_deploysmoke.config.model import ADHOC_TARGET, MAX_SAMPLES, DeployConfig, Target
from pytest_deploysmoke.config.redaction import Redactor, redact_url
from pytest_deploysmoke.config.version_source import VERSION_NODEID
from pytest_deploysmoke.errors import ConfigError
from pytest_deploysmoke.options import TARGET_ENV
from pytest_deploysmoke.results.manual import confirmer, parse_confirm

if TYPE_CHECKING:
    from pytest_deploysmoke.perf.baseline import Baseline

#: Key of the launched port in xdist's ``workerinput``, so workers see the controller's port.
PORT_WORKERINPUT = "deploysmoke_port"


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Everything a run resolved from the CLI, the environment and the config file."""

    #: The target, with the options folded in: ``--allow-destructive`` (``allow_destructive``),
    #: ``--deploy-wait`` (``wait_ready``), ``--deploy-samples`` (``samples``), ``--deploy-watch`` and
    #: ``--deploy-watch-every`` (``watch.duration``, ``watch.every``), ``--deploy-browser-path``
    #: (``ui.browser_path``).
    target: Target
    config: DeployConfig
    target_source: str
    only_phases: tuple[str, ...]
    port: int | None
    #: ``--deploy-confirm ID[=NOTE]``: each confirmed item's ID and note, in the order given.
    confirmations: tuple[tuple[str, str], ...] = ()
    #: Who confirmed them (a CI's user variable, else the login name); "" without confirmations.
    confirmed_by: str = ""
    #: ``--deploy-baseline PATH``: the previous run this one is judged against (read on the controller only).
    baseline: Baseline | None = None
    #: ``--deploy-compare TARGET``: the stable fleet the watch window judges the target (the canary) against.
    compare_target: Target | None = None

    @property
    def destructive_allowed(self) -> bool:
        """Whether checks marked destructive may run against this target."""
        return not self.target.production or self.target.allow_destructive


settings_key = pytest.StashKey[RunSettings]()
redactor_key = pytest.StashKey[Redactor]()


def get_settings(config: pytest.Config) -> RunSettings | None:
    """Return the run's settings, or None when no target is selected (the plugin is inert)."""
    return config.stash.get(settings_key, None)


def get_target(config: pytest.Config) -> Target | None:
    """Return the selected target, or None when the plugin is inert."""
    settings = get_settings(config)
    return settings.target if settings else None


def get_redactor(config: pytest.Config) -> Redactor:
    """Return the run's redactor (one that masks only secret-shaped text when inert)."""
    redactor = config.stash.get(redactor_key, None)
    if redactor is None:
        redactor = config.stash[redactor_key] = Redactor()
    return redactor


def configure(config: pytest.Config) -> RunSettings | None:
    """Resolve and validate the run's settings; raise ConfigError on bad input."""
    from pytest_deploysmoke.config.parse import build_target, find_config, load_config  # TOML, validation

    option = config.option
    selected = selected_target(config)
    if selected is None:
        return None
    name, source = selected
    base_url: str | None = option.deploysmoke_base_url

    deploy_config = load_config(find_config(config.rootpath, option.deploysmoke_config))
    port = None
    raw = deploy_config.targets.get(name, {})
    if "launch" in raw:
        workerinput = getattr(config, "workerinput", None)
        port = int(workerinput[PORT_WORKERINPUT]) if workerinput else free_port()
    target = build_target(deploy_config, name, os.environ, base_url=base_url, port=port, source=source)

    only = tuple(p.strip() for value in option.deploysmoke_phase for p in value.split(",") if p.strip())
    for phase in only:
        if phase not in deploy_config.phases:
            raise ConfigError(
                None,
                "--deploy-phase",
                f"names unknown phase '{phase}'",
                f"known phases: {', '.join(deploy_config.phases)}",
            )
    wait: float | None = option.deploysmoke_wait
    if wait is not None and wait < 0:
        raise ConfigError(None, "--deploy-wait", f"is {wait:g}", "expected seconds >= 0")
    samples: int | None = option.deploysmoke_samples
    if samples is not None and not 1 <= samples <= MAX_SAMPLES:
        raise ConfigError(None, "--deploy-samples", f"is {samples}", f"expected a whole number from 1 to {MAX_SAMPLES}")
    watch_duration = _option_duration("--deploy-watch", option.deploysmoke_watch, target.watch.duration)
    watch_every = _option_duration("--deploy-watch-every", option.deploysmoke_watch_every, target.watch.every)
    if watch_every <= 0:
        raise ConfigError(None, "--deploy-watch-every", f"is {option.deploysmoke_watch_every!r}", "expected > 0")
    target = replace(
        target,
        allow_destructive=bool(option.deploysmoke_allow_destructive or target.allow_destructive),
        wait_ready=target.wait_ready if wait is None else wait,
        samples=target.samples if samples is None else samples,
        watch=replace(target.watch, duration=watch_duration, every=watch_every),
        ui=replace(target.ui, browser_path=getattr(option, "deploysmoke_browser_path", None) or target.ui.browser_path),
    )
    confirmations = read_confirmations(option.deploysmoke_confirm, target)
    compare_name: str | None = option.deploysmoke_compare
    if compare_name is not None and option.deploysmoke_baseline is not None:
        raise ConfigError(
            None,
            "--deploy-compare",
            "and --deploy-baseline each name the baseline to judge the run against",
            "give one of them",
        )
    compare_target = None if compare_name is None else compared_target(deploy_config, compare_name, target)
    settings = RunSettings(
        target=target,
        config=deploy_config,
        target_source=source,
        only_phases=only,
        port=port,
        confirmations=confirmations,
        confirmed_by=confirmer(os.environ) if confirmations else "",
        baseline=None if hasattr(config, "workerinput") else read_baseline_option(option.deploysmoke_baseline, target),
        compare_target=compare_target,
    )
    config.stash[settings_key] = settings
    redactor = config.stash[redactor_key] = target.redactor()
    if compare_target is not None:
        redactor.add_all(compare_target.secrets)
    return settings


def read_baseline_option(path: str | None, target: Target) -> Baseline | None:
    """``--deploy-baseline PATH`` read as *target*'s baseline; None without the option.

    Raises:
        ConfigError: scipy is missing, or the file is no summary of *target* this version reads.
    """
    if path is None:
        return None
    require_scipy("--deploy-baseline")
    from pytest_deploysmoke.perf.baseline import BaselineError, read_baseline

    try:
        return read_baseline(path, target.name)
    except BaselineError as exc:
        raise ConfigError(None, f"--deploy-baseline {path}", exc.problem, exc.fix) from None


def require_scipy(option: str) -> None:
    """Import scipy, which the comparisons' statistics need at the end of the run.

    Raises:
        ConfigError: it is not installed, or does not import; *option* is the option that needs it.
    """
    try:
        import scipy  # noqa: F401
    except ImportError as exc:
        broken = "" if isinstance(exc, ModuleNotFoundError) else f", which did not import ({exc})"
        problem = f"needs scipy{broken}: pip install 'pytest-deploysmoke[compare]'"
        raise ConfigError(None, option, problem) from None


def compared_target(deploy_config: DeployConfig, name: str, canary: Target) -> Target:
    """The target ``--deploy-compare`` names, resolved: the stable fleet the watch window judges *canary* against.

    Raises:
        ConfigError: *name* is not a target of the config, is the selected one, is launched by the run, the
            run has no watch window to compare in, or scipy (the ``compare`` extra) is not installed.
    """
    from pytest_deploysmoke.config.parse import build_target, expand_target

    known = sorted(deploy_config.targets)
    if name not in deploy_config.targets:
        listed = f"known targets: {', '.join(known)}" if known else "no target is defined"
        where = deploy_config.display_path if deploy_config.path else "any config file (none was found)"
        raise ConfigError(
            None, f"--deploy-compare '{name}'", f"is not defined in {where}", f"{did_you_mean(name, known)}{listed}"
        )
    if name == canary.name:
        raise ConfigError(
            None,
            f"--deploy-compare '{name}'",
            "is the selected target (the canary)",
            "name the target of the stable fleet to judge it against",
        )
    table, _ = expand_target(deploy_config, name, os.environ, source="--deploy-compare")
    if "launch" in table:
        raise ConfigError(
            None,
            f"--deploy-compare '{name}'",
            "has [launch]: only the selected target is launched",
            "give it the base_url of the running stable fleet",
        )
    if canary.watch.duration <= 0:
        raise ConfigError(None, "--deploy-compare", "judges the watch window's probes: give --deploy-watch=20s")
    require_scipy("--deploy-compare")
    return build_target(deploy_config, name, os.environ, source="--deploy-compare")


def read_confirmations(values: list[str], target: Target) -> tuple[tuple[str, str], ...]:
    """``--deploy-confirm ID[=NOTE]`` values as (ID, note) pairs, one per item: a later note wins.

    Raises:
        ConfigError: a value names no ID, or an ID that is not one of the target's manual items.
    """
    known = [item.id for item in target.manual]
    notes: dict[str, str] = {}
    for value in values:
        item_id, note = parse_confirm(value)
        if not item_id:
            raise ConfigError(None, "--deploy-confirm", f"'{value}' names no item", "give ID or ID=NOTE")
        if item_id not in known:
            listed = f"known items: {', '.join(known)}" if known else "no [manual.ID] item is configured"
            raise ConfigError(
                None,
                f"--deploy-confirm '{item_id}'",
                f"is not a manual item of target '{target.name}'",
                f"{did_you_mean(item_id, known)}{listed}",
            )
        notes.pop(item_id, None)  # the later one wins, and takes its place in the order given
        notes[item_id] = note
    return tuple(notes.items())


def did_you_mean(name: str, known: list[str]) -> str:
    """``did you mean 'staging'? `` when one of *known* is close to *name*, else ""."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def selected_target(config: pytest.Config) -> tuple[str, str] | None:
    """The name of the target the run selects and where it came from; None when none is.

    ``--deploy-target``, else ``$DEPLOYSMOKE_TARGET``, else the ad-hoc target of ``--deploy-base-url``.
    """
    option = config.option
    if option.deploysmoke_target:
        return option.deploysmoke_target, "--deploy-target"
    if os.environ.get(TARGET_ENV):
        return os.environ[TARGET_ENV], TARGET_ENV
    if option.deploysmoke_base_url:
        return ADHOC_TARGET, "--deploy-base-url"
    return None


def _option_duration(name: str, value: str | None, default: float) -> float:
    """The seconds an option gives, else *default*; ConfigError when it is not a duration."""
    if value is None:
        return default
    from pytest_deploysmoke.perf.budgets import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(None, name, f"is {value!r}", f"expected a duration such as 1h, 15m or 6s ({exc})") from None


def header_lines(config: pytest.Config) -> list[str]:
    """The lines ``pytest_report_header`` shows: enough to rerun the exact run."""
    settings = get_settings(config)
    if settings is None:
        return []
    target = settings.target
    version = target.version or "(not set)"
    lines = [
        f"deploysmoke: target '{target.name}' (from {settings.target_source}), "
        f"base_url={redact_url(target.base_url)}, production={'yes' if target.production else 'no'}, "
        f"expected version={version}",
        f"deploysmoke: config={settings.config.display_path}, "
        f"phases={','.join(settings.config.phases)}, gates={','.join(settings.config.gates) or '(none)'}",
    ]
    if target.checks_version:
        expected = f"version {target.version} expected" if target.version else "version"
        waits = "; the readiness wait waits for it" if target.wait_for_version and target.wait_ready > 0 else ""
        source = target.version_source.describe()
        lines.append(f"deploysmoke: {expected}, read from {source} by {VERSION_NODEID}{waits}")
    rerun = [f"--deploy-target={target.name}"]
    if config.option.deploysmoke_config:
        rerun.append(f"--deploy-config={config.option.deploysmoke_config}")
    if config.option.deploysmoke_base_url:
        rerun.append(f"--deploy-base-url={redact_url(config.option.deploysmoke_base_url)}")
    if settings.only_phases:
        rerun.append(f"--deploy-phase={','.join(settings.only_phases)}")
    if config.option.deploysmoke_allow_destructive:
        rerun.append("--allow-destructive")
    if config.option.deploysmoke_wait is not None:
        rerun.append(f"--deploy-wait={config.option.deploysmoke_wait:g}")
    if config.option.deploysmoke_samples is not None:
        rerun.append(f"--deploy-samples={config.option.deploysmoke_samples}")
    if config.option.deploysmoke_watch is not None:
        rerun.append(f"--deploy-watch={config.option.deploysmoke_watch}")
    if config.option.deploysmoke_watch_every is not None:
        rerun.append(f"--deploy-watch-every={config.option.deploysmoke_watch_every}")
    if settings.compare_target is not None:
        rerun.append(f"--deploy-compare={settings.compare_target.name}")
    rerun += [f"--deploy-confirm={item_id}" for item_id, _ in settings.confirmations]
    if config.option.deploysmoke_baseline is not None:
        rerun.append(f"--deploy-baseline={config.option.deploysmoke_baseline}")
    lines.append(f"deploysmoke: rerun with {' '.join(rerun)}")
    if target.watch.duration > 0:
        probes = ", ".join(probe.action for probe in target.watch.probes)
        lines.append(
            f"deploysmoke: watch window {target.watch.duration:g} s after the checks, "
            f"a line every {target.watch.every:g} s; probes: {probes}"
        )
    if settings.baseline is not None:
        lines.append(baseline_line(settings.baseline))
    stable = settings.compare_target
    if stable is not None:
        lines.append(
            f"deploysmoke: the watch window judges target '{target.name}' (the canary) against target "
            f"'{stable.name}' (base_url={redact_url(stable.base_url)}), sampled at the same moments"
        )
    if target.manual:
        lines.append(manual_line(settings))
    if target.production and not target.allow_destructive:
        lines.append("deploysmoke: production guard on: checks marked destructive will not run")
    return [get_redactor(config).redact(line) for line in lines]


def baseline_line(baseline: Baseline) -> str:
    """``deploysmoke: baseline local 1.7.0 at 2026-12-01 10:00 UTC (previous.json): 4 endpoints, 1 watch probe``."""
    if not baseline.has_distributions:
        return f"deploysmoke: baseline {baseline.label}: written without distributions, nothing to compare with"
    parts = [f"{len(baseline.endpoints)} endpoint{'s' if len(baseline.endpoints) != 1 else ''}"]
    if baseline.watch:
        parts.append(f"{len(baseline.watch)} watch probe{'s' if len(baseline.watch) != 1 else ''}")
    return f"deploysmoke: baseline {baseline.label}: {', '.join(parts)}"


def manual_line(settings: RunSettings) -> str:
    """``deploysmoke: manual items: backup confirmed by alice; open: env, rollback (required: env)``."""
    confirmed = [item_id for item_id, _ in settings.confirmations]
    open_ids = [item.id for item in settings.target.manual if item.id not in confirmed]
    parts = []
    if confirmed:
        parts.append(f"{', '.join(confirmed)} confirmed by {settings.confirmed_by}")
    if open_ids:
        required = [item.id for item in settings.target.manual if item.required and item.id in open_ids]
        need = f" (required: {', '.join(required)})" if required else ""
        parts.append(f"open: {', '.join(open_ids)}{need}")
    return f"deploysmoke: manual items: {'; '.join(parts)}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
