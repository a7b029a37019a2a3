"""Configuration: find and read the TOML, expand ``${VAR}``, validate, build a Target (no pytest)."""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from pytest_deploysmoke.config.model import (
    ADHOC_TARGET,
    CONFIG_FILENAME,
    DEFAULT_CSRF_HEADER,
    DEFAULT_GATES,
    DEFAULT_MAX_RETRIED,
    DEFAULT_PHASE,
    DEFAULT_PHASES,
    DEFAULT_SAMPLES,
    MAX_SAMPLES,
    MIGRATION_TOOLS,
    TRACE_ID_FIELD,
    WATCH_METHODS,
    AuthSettings,
    DeployConfig,
    LaunchSettings,
    MigrationSettings,
    SmokeUserSettings,
    Target,
    UiSettings,
    WatchProbe,
    WatchSettings,
    display_path,
)
from pytest_deploysmoke.config.redaction import Secret, is_secret_name, redact_url
from pytest_deploysmoke.config.version_source import VersionSource, VersionSourceError, parse_source
from pytest_deploysmoke.errors import ConfigError
from pytest_deploysmoke.perf.budgets import Budget, parse_duration
from pytest_deploysmoke.perf.compare import ON_REGRESSION, CompareSettings
from pytest_deploysmoke.perf.distributions import SOURCES
from pytest_deploysmoke.perf.rollback import RollbackRules, parse_percent
from pytest_deploysmoke.results.manual import ManualItem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# --------------------------------------------------------------------------- finding and reading


def find_config(rootpath: Path, explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the config file to read: *explicit*, else deploysmoke.toml, else pyproject.toml.

    ``pyproject.toml`` counts only when it has a ``[tool.deploysmoke]`` table.
    """
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(None, "--deploy-config", f"'{explicit}' does not exist", "give the path of a TOML file")
        return path
    candidate = rootpath / CONFIG_FILENAME
    if candidate.is_file():
        return candidate
    pyproject = rootpath / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            return None  # not ours to complain about; pytest reads this file too
        if isinstance(data.get("tool"), dict) and "deploysmoke" in data["tool"]:
            return pyproject
    return None


def load_config(path: Path | None) -> DeployConfig:
    """Read and validate *path* (None gives the defaults with no targets)."""
    if path is None:
        return DeployConfig(path=None)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(display_path(path), "", f"is not valid TOML: {exc}", "fix the syntax") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(display_path(path), "", f"cannot be read: {exc}") from None
    section = ""
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        data = tool.get("deploysmoke", {}) if isinstance(tool, dict) else {}
        section = "tool.deploysmoke."
        if not isinstance(data, dict):
            raise ConfigError(display_path(path), "[tool.deploysmoke]", _got(data), "expected a table")
    return parse_config(data, path, section=section)


def parse_config(data: Mapping[str, Any], path: Path | None, *, section: str = "") -> DeployConfig:
    """Validate the top level of a config table and every target's shape."""
    where = display_path(path) if path else "(config)"
    if section:
        where += f" [{section.rstrip('.')}]"
    _check_keys(where, "", data, _TOP_KEYS)
    phases = _str_list(where, "phases", data.get("phases", list(DEFAULT_PHASES)))
    if not phases:
        raise ConfigError(where, "phases", "is empty", "list at least one phase")
    duplicates = sorted({p for p in phases if phases.count(p) > 1})
    if duplicates:
        raise ConfigError(where, "phases", f"lists {_names(duplicates)} more than once")
    default_gates = [g for g in DEFAULT_GATES if g in phases] if "phases" in data else DEFAULT_GATES
    gates = _str_list(where, "gates", data.get("gates", list(default_gates)))
    for gate in gates:
        if gate not in phases:
            raise ConfigError(where, "gates", f"names unknown phase '{gate}'", f"known phases: {', '.join(phases)}")
    default_phase = data.get("default_phase", DEFAULT_PHASE if DEFAULT_PHASE in phases else phases[-1])
    if default_phase not in phases:
        raise ConfigError(
            where,
            "default_phase",
            f"is unknown phase '{default_phase}'",
            f"known phases: {', '.join(phases)}",
        )
    raw_targets = data.get("targets", {})
    file = display_path(path) if path else "(config)"  # the labels name the section
    manual = data.get("manual", {})
    check_manual(file, section, manual, phases)
    for name, table in raw_targets.items():
        if not isinstance(table, dict):
            raise ConfigError(file, f"[{section}targets.{name}]", _got(table), "expected a table")
    targets = {name: _inherited(file, section, raw_targets, name) for name in raw_targets}
    for name, table in targets.items():
        _check_target_shape(file, f"[{section}targets.{name}]", table)
        check_manual(file, f"{section}targets.{name}.", table.get("manual", {}), phases)
    return DeployConfig(
        path=path,
        phases=tuple(phases),
        gates=tuple(gates),
        default_phase=default_phase,
        targets=MappingProxyType({k: MappingProxyType(v) for k, v in targets.items()}),
        section=section,
        manual=MappingProxyType({item_id: MappingProxyType(dict(item)) for item_id, item in manual.items()}),
    )


# --------------------------------------------------------------------------- building a target


def expand_target(
    config: DeployConfig,
    name: str,
    environ: Mapping[str, str],
    *,
    base_url: str | None = None,
    source: str = "--deploy-target",
) -> tuple[dict[str, Any], list[str]]:
    """Target *name*'s table as the run reads it, and the secret values expanding it revealed.

    What it ``extends`` is merged in, and the shared ``[manual.ID]`` items under its own ``manual``
    (its item of the same ID replaces a shared one); ``${VAR}`` is expanded and *base_url*
    (``--deploy-base-url``) replaces the configured one; ``{port}`` is left as written.  Only this target's strings are
    expanded, so other targets may use variables that are unset.  *source* names where *name*
    came from, for messages (``--deploy-target``, ``DEPLOYSMOKE_TARGET``).
    """
    where = display_path(config.path) if config.path else "(no config file)"
    label = f"[{config.section}targets.{name}]"
    if name in config.targets:
        raw: Mapping[str, Any] = config.targets[name]
    elif base_url is not None and (name == ADHOC_TARGET or not config.targets):
        raw = {"base_url": base_url}
    else:
        if config.path is None:
            raise ConfigError(
                None,
                f"{source} '{name}'",
                f"is not defined: no {CONFIG_FILENAME} (or [tool.deploysmoke] in pyproject.toml) in the rootdir",
                "create one, pass --deploy-config PATH, or give --deploy-base-url URL",
            )
        raise ConfigError(
            None,
            f"{source} '{name}'",
            f"is not defined in {config.display_path}",
            f"known targets: {', '.join(sorted(config.targets)) or '(none)'}",
        )

    if config.manual:
        own = raw.get("manual", {})
        raw = {**raw, "manual": {**{k: dict(v) for k, v in config.manual.items()}, **own}}
    secrets: list[str] = []
    expand = _Expander(where, label, environ, secrets)
    table: dict[str, Any] = {k: expand.value(k, v) for k, v in raw.items()}
    if base_url is not None:
        table["base_url"] = base_url
    if "base_url" not in table:
        raise ConfigError(where, label, "has no base_url", 'add base_url = "https://..."')
    return table, secrets


def build_target(
    config: DeployConfig,
    name: str,
    environ: Mapping[str, str],
    *,
    base_url: str | None = None,
    port: int | None = None,
    source: str = "--deploy-target",
) -> Target:
    """Resolve target *name* of *config* into a Target.

    The table is the one ``expand_target`` gives; *port* replaces ``{port}``.
    """
    where = display_path(config.path) if config.path else "(no config file)"
    label = f"[{config.section}targets.{name}]"
    table, secrets = expand_target(config, name, environ, base_url=base_url, source=source)

    production = bool(table.get("production", False))
    launch_table = table.get("launch")
    if launch_table is not None and production:
        raise ConfigError(
            where,
            f"[{config.section}targets.{name}.launch]",
            "is set on a production target",
            "a launched command is a local stand-in; remove [launch] or set production = false",
        )

    def sub_port(key: str, value: str) -> str:
        if "{port}" not in value:
            return value
        if port is None:
            raise ConfigError(
                where,
                f"{label} {key}",
                "contains {port} but the target has no [launch] section",
                "{port} is only filled in for launched targets",
            )
        return value.replace("{port}", str(port))

    url = sub_port("base_url", table["base_url"])
    if base_url is not None:
        _check_url(None, "--deploy-base-url", url, ("http", "https"))
    else:
        _check_url(where, f"{label} base_url", url, ("http", "https"))
    ws_url = table.get("ws_url")
    if ws_url is None:
        ws_url = _derive_ws_url(url)
    else:
        ws_url = sub_port("ws_url", ws_url)
        _check_url(where, f"{label} ws_url", ws_url, ("ws", "wss"))

    health_path = table.get("health_path", "/health")
    _check_path(where, f"{label} health_path", health_path)
    version, version_from = _version_settings(where, label, table, health_path)
    timeout = float(table.get("timeout", 10.0))
    if timeout <= 0:
        raise ConfigError(where, f"{label} timeout", f"is {timeout:g}", "expected seconds > 0")
    wait_ready = float(table.get("wait_ready", 0))
    if wait_ready < 0:
        raise ConfigError(where, f"{label} wait_ready", f"is {wait_ready:g}", "expected seconds >= 0")
    max_retried = DEFAULT_MAX_RETRIED
    if "max_retried" in table:
        try:
            max_retried = parse_percent(table["max_retried"])
        except ValueError as exc:
            raise ConfigError(where, f"{label} max_retried", f"is {table['max_retried']!r}", str(exc)) from None

    database_url = table.get("database_url") or None
    redis_url = table.get("redis_url") or None
    for value in (database_url, redis_url, url):
        if value:
            secrets.append(_url_secret(value))

    auth = None
    if "auth" in table:
        auth = _build_auth(where, label, table["auth"], secrets)
    smoke_user = None
    if "smoke_user" in table:
        user = table["smoke_user"]
        smoke_user = SmokeUserSettings(
            register_path=user["register_path"],
            prefix=user.get("prefix", "smoke-"),
            email_domain=user.get("email_domain", "example.com"),
            username_field=user.get("username_field", auth.username_field if auth else "email"),
            password_field=user.get("password_field", auth.password_field if auth else "password"),
            id_path=user.get("id_path", "id"),
            delete_path=user.get("delete_path"),
            extra=MappingProxyType(dict(user.get("extra", {}))),
        )
        for key in ("register_path", "delete_path"):
            if getattr(smoke_user, key) is not None:
                _check_path(where, f"{label} smoke_user.{key}", getattr(smoke_user, key))
    launch = None
    if launch_table is not None:
        launch = LaunchSettings(
            command=sub_port("launch.command", launch_table["command"]),
            ready_path=launch_table.get("ready_path", health_path),
            timeout=float(launch_table.get("timeout", 30.0)),
            env=MappingProxyType({k: sub_port(f"launch.env.{k}", v) for k, v in launch_table.get("env", {}).items()}),
        )
        _check_path(where, f"{label} launch.ready_path", launch.ready_path)
        if launch.timeout <= 0:
            raise ConfigError(where, f"{label} launch.timeout", f"is {launch.timeout:g}", "expected seconds > 0")

    migrations = None
    if "migrations" in table:
        if database_url is None:
            raise ConfigError(
                where,
                f"[{config.section}targets.{name}.migrations]",
                "is set but the target has no database_url",
                'add database_url = "postgresql://..." for the migrations check to read, or remove [migrations]',
            )
        base = config.path.parent if config.path is not None else Path.cwd()
        check_migrations(where, f"[{config.section}targets.{name}.migrations]", table["migrations"])  # expanded now
        migrations = build_migrations(table["migrations"], base)

    watch = _build_watch(where, label, table.get("watch", {}), health_path, sub_port)
    rollback = _build_rollback(where, label, table.get("rollback", {}))
    compare = _build_compare(where, label, table.get("compare", {}))
    ui = _build_ui(where, label, table.get("ui", {}))

    return Target(
        name=name,
        base_url=url.rstrip("/"),
        ws_url=ws_url.rstrip("/"),
        health_path=health_path,
        production=production,
        version=version,
        version_from=version_from,
        wait_for_version=bool(table.get("wait_for_version", False)),
        timeout=timeout,
        verify_tls=bool(table.get("verify_tls", True)),
        headers=MappingProxyType(dict(table.get("headers", {}))),
        database_url=Secret(database_url) if database_url else None,
        redis_url=Secret(redis_url) if redis_url else None,
        required_env=tuple(table.get("required_env", ())),
        wait_ready=wait_ready,
        retries=int(table.get("retries", 0)),
        max_retried=max_retried,
        budgets=_budgets(where, label, table.get("budgets", {})),
        allow_destructive=bool(table.get("allow_destructive", False)),
        samples=int(table.get("samples", DEFAULT_SAMPLES)),
        vars=MappingProxyType(dict(table.get("vars", {}))),
        auth=auth,
        smoke_user=smoke_user,
        launch=launch,
        migrations=migrations,
        watch=watch,
        rollback=rollback,
        ui=ui,
        read_only_requests=_read_only_requests(where, label, table.get("read_only_requests", [])),
        held_back="warn" if table.get("held_back") == "warn" else "list",
        manual=manual_items(table.get("manual", {}), config.default_phase),
        trace_url=_trace_url(where, label, table.get("trace_url")),
        compare=compare,
        secrets=tuple(Secret(s) for s in dict.fromkeys(secrets) if s),
    )


def _version_settings(
    where: str, label: str, table: Mapping[str, Any], health_path: str
) -> tuple[str, VersionSource | None]:
    """``version`` and ``version_from``, checked now; ``wait_for_version`` needs a version to wait for."""
    version = table.get("version", "")
    version_from = None
    if "version_from" in table:
        try:
            version_from = parse_source(table["version_from"], health_path)
        except VersionSourceError as exc:
            raise ConfigError(where, f"{label} version_from", exc.problem, exc.expected) from None
    if table.get("wait_for_version") and not version:
        empty = "is empty" if "version" in table else "is not set"
        raise ConfigError(
            where,
            f"{label} wait_for_version",
            f"is true but version {empty}",
            'set version = "..." to the release to wait for, or remove wait_for_version',
        )
    return version, version_from


def manual_items(tables: Mapping[str, Mapping[str, Any]], default_phase: str) -> tuple[ManualItem, ...]:
    """Checked ``[manual.ID]`` tables as ManualItems, in config order; no ``phase``: *default_phase*."""
    return tuple(
        ManualItem(
            id=item_id,
            text=" ".join(str(table["text"]).split()),
            phase=table.get("phase", default_phase),
            owner=table.get("owner", "").strip(),
            required=bool(table.get("required", False)),
        )
        for item_id, table in tables.items()
    )


#: A manual item's ID: what ``--deploy-confirm ID[=NOTE]`` takes, so no ``=``, space or dot.
_MANUAL_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")


def check_manual(where: str, prefix: str, tables: Mapping[str, Any], phases: Sequence[str]) -> None:
    """Validate ``[PREFIXmanual.ID]`` tables: a simple ID, known keys and types, a text, a known phase."""
    for item_id, table in tables.items():
        label = f"[{prefix}manual.{item_id}]"
        if not _MANUAL_ID.match(item_id):
            raise ConfigError(
                where,
                label,
                f"has ID '{item_id}', which is not a simple name",
                "use letters, digits, '-' and '_', starting with a letter (--deploy-confirm ID names it)",
            )
        if not isinstance(table, dict):
            raise ConfigError(where, label, _got(table), 'expected a table with text = "..."')
        _check_keys(where, label, table, _MANUAL_KEYS)
        if not table.get("text", "").strip():
            empty = "is empty" if "text" in table else "has no text"
            raise ConfigError(where, f"{label} text" if "text" in table else label, empty, 'add text = "what to do"')
        phase = table.get("phase")
        if phase is not None and phase not in phases:
            close = difflib.get_close_matches(phase, phases, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(
                where, f"{label} phase", f"is unknown phase '{phase}'", f"{hint}known phases: {', '.join(phases)}"
            )


TOKEN_STORAGES: Final = ("localStorage", "sessionStorage", "cookie")
SCREENSHOTS: Final = ("always", "on-failure", "off")


def _build_ui(where: str, label: str, table: Mapping[str, Any]) -> UiSettings:
    ui_label = f"{label[:-1]}.ui]"
    storage = table.get("token_storage")
    if storage is not None:
        kind, _, key = storage.partition(":")
        if kind not in TOKEN_STORAGES or not key:
            raise ConfigError(
                where,
                f"{ui_label} token_storage",
                f"is {storage!r}",
                'expected "localStorage:KEY", "sessionStorage:KEY" or "cookie:NAME"',
            )
    screenshots = table.get("screenshots", "always")
    if screenshots not in SCREENSHOTS:
        raise ConfigError(
            where, f"{ui_label} screenshots", f"is {screenshots!r}", 'expected "always", "on-failure" or "off"'
        )
    return UiSettings(browser_path=table.get("browser_path") or None, token_storage=storage, screenshots=screenshots)


def parse_probe(text: str, health_path: str = "/health") -> WatchProbe:
    """``"health"``, ``"GET /path"`` or ``"ws /path"`` as a WatchProbe.

    Raises:
        ValueError: *text* is none of those forms, or its method would write.
    """
    if text.strip() == "health":
        return WatchProbe("http", "GET", health_path, health=True)
    method, _, path = text.strip().partition(" ")
    path = path.strip()
    if not path.startswith("/"):
        raise ValueError(f'probe \'{text}\' is not "health", "GET /path" or "ws /path"')
    if method.lower() == "ws":
        return WatchProbe("ws", "WS", path)
    if method not in WATCH_METHODS:
        raise ValueError(f"probe '{text}' uses {method}; the watch window only reads: GET or HEAD")
    return WatchProbe("http", method, path, health=path == health_path)


def _build_watch(
    where: str, label: str, table: Mapping[str, Any], health_path: str, sub_port: Callable[[str, str], str]
) -> WatchSettings:
    watch_label = f"{label[:-1]}.watch]"
    defaults = WatchSettings()
    durations = {}
    for key in ("duration", "every"):
        value = table.get(key, getattr(defaults, key))
        try:
            durations[key] = parse_duration(value)
        except ValueError as exc:
            raise ConfigError(where, f"{watch_label} {key}", f"is {value!r}: {exc}") from None
    if durations["every"] <= 0:
        raise ConfigError(where, f"{watch_label} every", f"is {table['every']!r}", "expected an interval > 0")
    probes = []
    for text in table.get("probes", ["health"]):
        try:
            probes.append(parse_probe(text, health_path))
        except ValueError as exc:
            raise ConfigError(where, f"{watch_label} probes", str(exc)) from None
    metrics_url = table.get("metrics_url")
    if metrics_url is not None:
        metrics_url = sub_port("watch.metrics_url", metrics_url)
        if not metrics_url.startswith("/"):
            _check_url(where, f"{watch_label} metrics_url", metrics_url, ("http", "https"))
    return WatchSettings(durations["duration"], durations["every"], tuple(probes), metrics_url)


def _build_rollback(where: str, label: str, table: Mapping[str, Any]) -> RollbackRules:
    rollback_label = f"{label[:-1]}.rollback]"
    defaults = RollbackRules()
    rates = {}
    for key in ("error_rate", "ws_failure_rate"):
        value = table.get(key)
        if value is None:
            rates[key] = getattr(defaults, key)
            continue
        try:
            rates[key] = parse_percent(value)
        except ValueError as exc:
            raise ConfigError(where, f"{rollback_label} {key}", f"is {value!r}", str(exc)) from None
    return RollbackRules(
        error_rate=rates["error_rate"],
        p95_over_target=float(table.get("p95_over_target", defaults.p95_over_target)),
        ws_failure_rate=rates["ws_failure_rate"],
        health_consecutive_failures=int(table.get("health_consecutive_failures", defaults.health_consecutive_failures)),
        min_samples=int(table.get("min_samples", defaults.min_samples)),
    )


def _build_compare(where: str, label: str, table: Mapping[str, Any]) -> CompareSettings:
    """``[targets.X.compare]``, its types already checked: the tolerance parsed, the choices and endpoints checked."""
    compare_label = f"{label[:-1]}.compare]"
    defaults = CompareSettings()
    tolerance = defaults.tolerance
    if "tolerance" in table:
        try:
            tolerance = parse_percent(table["tolerance"])
        except ValueError as exc:
            raise ConfigError(where, f"{compare_label} tolerance", f"is {table['tolerance']!r}", str(exc)) from None
    on_regression = table.get("on_regression", defaults.on_regression)
    if on_regression not in ON_REGRESSION:
        close = difflib.get_close_matches(on_regression.lower(), ON_REGRESSION, n=1)
        hint = f'did you mean "{close[0]}"?' if close else f"expected {_quoted(ON_REGRESSION)}"
        raise ConfigError(where, f"{compare_label} on_regression", f"is '{on_regression}'", hint)
    min_shift_ms = defaults.min_shift_ms
    if "min_shift" in table:
        try:
            min_shift_ms = parse_duration(table["min_shift"]) * 1000
        except ValueError as exc:
            raise ConfigError(where, f"{compare_label} min_shift", f"is {table['min_shift']!r}", str(exc)) from None
    endpoints = []
    for entry in table.get("endpoints", []):
        try:
            endpoints.append(compare_endpoint(entry))
        except ValueError as exc:
            raise ConfigError(where, f"{compare_label} endpoints", f"has '{entry}'", str(exc)) from None
    return CompareSettings(
        tolerance=tolerance,
        confidence=float(table.get("confidence", defaults.confidence)),
        min_samples=int(table.get("min_samples", defaults.min_samples)),
        endpoints=tuple(dict.fromkeys(endpoints)),
        on_regression=on_regression,
        min_shift_ms=min_shift_ms,
    )


def compare_endpoint(text: str) -> str:
    """``"GET /api/markets"`` as it is, ``"/api/markets"`` as ``"GET /api/markets"``: an endpoint to compare.

    Raises:
        ValueError: *text* is neither form, or has a query (an endpoint is its method and path only).
    """
    entry = text.strip()
    source = ""
    for name in SOURCES:
        if entry.endswith(f" ({name})"):
            entry, source = entry.removesuffix(f" ({name})").rstrip(), f" ({name})"
    method, _, path = ("GET", "", entry) if entry.startswith("/") else entry.partition(" ")
    path = path.strip()
    if not (method.isalpha() and method.isupper()) or not path.startswith("/") or "?" in path or " " in path:
        raise ValueError('expected "METHOD /path", or "/path" for a GET, without a query, e.g. "GET /api/items"')
    return f"{method} {path}{source}"


def _read_only_requests(where: str, label: str, entries: list[str]) -> frozenset[str]:
    """``"POST /path"`` entries, checked now; the query string is not part of them."""
    for entry in entries:
        method, _, path = entry.partition(" ")
        if not method.isupper() or not path.startswith("/") or "?" in path:
            raise ConfigError(
                where, f"{label} read_only_requests", f"has '{entry}'", 'expected "METHOD /path", e.g. "POST /graphql"'
            )
    return frozenset(entries)


def _budgets(where: str, label: str, table: Mapping[str, Any]) -> Mapping[str, Budget]:
    """``"GET /path" = "1s"`` or ``= ["500ms", "1s"]`` (target, limit) entries, checked now."""
    budgets: dict[str, Budget] = {}
    for key, value in table.items():
        method, _, path = key.partition(" ")
        if not method.isupper() or not path.startswith("/"):
            raise ConfigError(
                where, f"{label[:-1]}.budgets]", f"has key '{key}'", 'expected "METHOD /path", e.g. "GET /health"'
            )
        try:
            budgets[key] = Budget.of(tuple(value) if isinstance(value, list) else value)
        except ValueError as exc:
            raise ConfigError(where, f'{label[:-1]}.budgets] "{key}"', f"is {value!r}: {exc}") from None
    return MappingProxyType(budgets)


def _build_auth(where: str, label: str, table: Mapping[str, Any], secrets: list[str]) -> AuthSettings:
    """The ``[auth]`` table, its combinations already checked by :func:`_check_auth`."""
    password = table.get("password") or None
    token = table.get("token") or None
    client_secret = table.get("client_secret") or None
    secrets.extend(v for v in (password, token, client_secret) if v)
    token_url = table.get("token_url") or None
    if token_url is not None and not token_url.startswith("/"):
        _check_url(where, f"{label[:-1]}.auth] token_url", token_url, ("http", "https"))
    csrf = any(table.get(key) for key in ("csrf_cookie", "csrf_header", "csrf_field"))
    defaults = AuthSettings()
    return AuthSettings(
        login_path=table.get("login_path", defaults.login_path),
        username=table.get("username") or None,
        password=Secret(password) if password else None,
        username_field=table.get("username_field", defaults.username_field),
        password_field=table.get("password_field", defaults.password_field),
        token_path=table.get("token_path", defaults.token_path),
        token=Secret(token) if token else None,
        body=table.get("body", "form" if table.get("grant") or table.get("session") else "json"),
        grant=table.get("grant"),
        token_url=token_url,
        client_id=table.get("client_id") or None,
        client_secret=Secret(client_secret) if client_secret else None,
        scope=table.get("scope") or None,
        audience=table.get("audience") or None,
        client_auth=table.get("client_auth", defaults.client_auth),
        session=table.get("session"),
        csrf_cookie=table.get("csrf_cookie") or None,
        csrf_header=table.get("csrf_header") or (DEFAULT_CSRF_HEADER if csrf else None),
        csrf_field=table.get("csrf_field") or None,
        scheme=table.get("scheme"),
        header=table.get("header") or None,
        token_header=table.get("token_header") or None,
    )


# A default may hold "{port}", so it allows balanced {...} groups before the closing brace.
_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>(?:[^{}]|\{[^{}]*\})*))?\}")


@dataclass(slots=True)
class _Expander:
    """Expands ``${VAR}`` / ``${VAR:-default}`` / ``$$`` in every string, recording secrets."""

    where: str
    label: str
    environ: Mapping[str, str]
    secrets: list[str]

    def value(self, key: str, value: Any) -> Any:
        if isinstance(value, str):
            return self.string(key, value)
        if isinstance(value, list):
            return [self.value(key, v) for v in value]
        if isinstance(value, dict):
            return {k: self.value(f"{key}.{k}", v) for k, v in value.items()}
        return value

    def string(self, key: str, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            var = match["name"]
            value = self.environ.get(var, "")
            if not value:
                if match["default"] is None:
                    raise ConfigError(
                        self.where,
                        f"{self.label} {key}",
                        f"uses ${{{var}}}, which is not set or empty",
                        f"export {var}, or give a default: ${{{var}:-...}}",
                    )
                value = match["default"]
            if is_secret_name(var):
                self.secrets.append(value)
            return value

        return _VAR.sub(replace, text)


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True, slots=True)
class _Field:
    expected: str
    check: Callable[[Any], bool]


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_str_table(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(x, str) for x in v.values())


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_table(v: Any) -> bool:
    return isinstance(v, dict)


_STR = _Field("a string", _is_str)
_BOOL = _Field("true or false", _is_bool)
_NUMBER = _Field("a number of seconds", _is_number)
_STR_TABLE = _Field("a table of strings", _is_str_table)
_STR_LIST = _Field("a list of strings", _is_str_list)
_TABLE = _Field("a table", _is_table)

_TOP_KEYS: Mapping[str, _Field] = {
    "phases": _STR_LIST,
    "gates": _STR_LIST,
    "default_phase": _STR,
    "targets": _TABLE,
    "manual": _TABLE,
}
_TARGET_KEYS: Mapping[str, _Field] = {
    "base_url": _STR,
    "ws_url": _STR,
    "health_path": _STR,
    "production": _BOOL,
    "version": _STR,
    "version_from": _STR,
    "wait_for_version": _BOOL,
    "timeout": _NUMBER,
    "verify_tls": _BOOL,
    "headers": _STR_TABLE,
    "database_url": _STR,
    "redis_url": _STR,
    "required_env": _STR_LIST,
    "wait_ready": _NUMBER,
    "retries": _Field("a whole number of retries (0 or more)", lambda v: type(v) is int and v >= 0),
    "max_retried": _Field('a percentage such as "10%"', _is_str),
    "allow_destructive": _BOOL,
    "samples": _Field(
        f"a whole number of requests from 1 to {MAX_SAMPLES}", lambda v: type(v) is int and 1 <= v <= MAX_SAMPLES
    ),
    "budgets": _TABLE,
    "vars": _TABLE,
    "auth": _TABLE,
    "smoke_user": _TABLE,
    "launch": _TABLE,
    "migrations": _TABLE,
    "watch": _TABLE,
    "rollback": _TABLE,
    "ui": _TABLE,
    "read_only_requests": _STR_LIST,
    "held_back": _Field("'list' or 'warn'", lambda v: v in ("list", "warn")),
    "manual": _TABLE,
    "trace_url": _STR,
    "compare": _TABLE,
}
_MANUAL_KEYS: Mapping[str, _Field] = {
    "text": _STR,
    "phase": _STR,
    "owner": _STR,
    "required": _BOOL,
}
_UI_KEYS: Mapping[str, _Field] = {
    "browser_path": _STR,
    "token_storage": _STR,
    "screenshots": _STR,
}
_AUTH_KEYS: Mapping[str, _Field] = {
    "login_path": _STR,
    "username": _STR,
    "password": _STR,
    "username_field": _STR,
    "password_field": _STR,
    "token_path": _STR,
    "token": _STR,
    "body": _STR,
    "grant": _STR,
    "token_url": _STR,
    "client_id": _STR,
    "client_secret": _STR,
    "scope": _STR,
    "audience": _STR,
    "client_auth": _STR,
    "session": _STR,
    "csrf_cookie": _STR,
    "csrf_header": _STR,
    "csrf_field": _STR,
    "scheme": _STR,
    "header": _STR,
    "token_header": _STR,
}
#: The values an ``[auth]`` key may take, where it is one of a few.
_AUTH_CHOICES: Mapping[str, tuple[str, ...]] = {
    "body": ("json", "form"),
    "grant": ("password", "client_credentials"),
    "client_auth": ("basic", "body"),
    "session": ("cookie",),
    "scheme": ("basic",),
}
_OAUTH_KEYS: Final = ("token_url", "client_id", "client_secret", "scope", "audience", "client_auth")
_CSRF_KEYS: Final = ("csrf_cookie", "csrf_header", "csrf_field")
_LOGIN_KINDS: Final = frozenset({"login", "token"})  # a static token may sit beside a login's keys: it wins
#: The ways to log in other than a login at login_path, each with the keys it needs and those it takes.
_AUTH_WAYS: Mapping[str, tuple[str, tuple[str, ...], frozenset[str]]] = {
    "basic": ('scheme = "basic"', ("username", "password"), frozenset({"scheme", "username", "password"})),
    "api_key": ("header = ...", ("token",), frozenset({"header", "token"})),
    "session": (
        'session = "cookie"',
        ("username", "password"),
        frozenset({"session", "login_path", "username", "password", "username_field", "password_field", "body"})
        | frozenset(_CSRF_KEYS),
    ),
    "client_credentials": (
        'grant = "client_credentials"',
        ("token_url", "client_id", "client_secret"),
        frozenset({"grant", "token_path", "body"}) | frozenset(_OAUTH_KEYS),
    ),
}
_SMOKE_USER_KEYS: Mapping[str, _Field] = {
    "register_path": _STR,
    "prefix": _STR,
    "email_domain": _STR,
    "username_field": _STR,
    "password_field": _STR,
    "id_path": _STR,
    "delete_path": _STR,
    "extra": _TABLE,
}
_LAUNCH_KEYS: Mapping[str, _Field] = {
    "command": _STR,
    "ready_path": _STR,
    "timeout": _NUMBER,
    "env": _STR_TABLE,
}
_MIGRATIONS_KEYS: Mapping[str, _Field] = {
    "tool": _STR,
    "revision": _STR,
    "script_location": _STR,
    "apps": _STR_LIST,
    "migrations_dir": _STR,
    "version": _Field(
        'a version as a string, such as "1.10" or "20240611120000"', lambda v: _is_str(v) or type(v) is int
    ),
    "schema": _STR,
    "tables": _STR_LIST,
    "columns": _Field(
        'a table of column lists, such as { users = ["id", "email"] }',
        lambda v: isinstance(v, dict) and all(_is_str_list(x) for x in v.values()),
    ),
}
#: The keys each tool takes besides the shared ``tool``, ``schema``, ``tables`` and ``columns``.
_TOOL_KEYS: Mapping[str, tuple[str, ...]] = {
    "alembic": ("revision", "script_location"),
    "django": ("apps", "migrations_dir"),
    "flyway": ("version",),
    "golang-migrate": ("version",),
    "dbmate": ("version",),
    "rails": ("version",),
    "prisma": ("version",),
    "liquibase": ("version",),
}
_SHARED_MIGRATION_KEYS = ("tool", "schema", "tables", "columns")


_DURATION = _Field('a duration such as "15m" or "2s", or seconds as a number', lambda v: _is_str(v) or _is_number(v))
_WATCH_KEYS: Mapping[str, _Field] = {
    "duration": _DURATION,
    "every": _DURATION,
    "probes": _Field('a list of probes: "health", "GET /path" or "ws /path"', lambda v: _is_str_list(v) and bool(v)),
    "metrics_url": _STR,
}
_PERCENT = _Field('a percentage such as "5%"', _is_str)
_ROLLBACK_KEYS: Mapping[str, _Field] = {
    "error_rate": _PERCENT,
    "p95_over_target": _Field("a factor > 0 such as 2.0", lambda v: _is_number(v) and v > 0),
    "ws_failure_rate": _PERCENT,
    "health_consecutive_failures": _Field(
        "a whole number of failures (1 or more)", lambda v: type(v) is int and v >= 1
    ),
    "min_samples": _Field("a whole number of samples (1 or more)", lambda v: type(v) is int and v >= 1),
}
_COMPARE_KEYS: Mapping[str, _Field] = {
    "tolerance": _Field('a percentage such as "25%"', _is_str),
    "confidence": _Field("a confidence from 0.5 to under 1, such as 0.98", lambda v: _is_number(v) and 0.5 <= v < 1),
    "min_samples": _Field("a whole number of samples (1 or more)", lambda v: type(v) is int and v >= 1),
    "min_shift": _DURATION,
    "endpoints": _Field('a list of endpoints such as "GET /api/items"', _is_str_list),
    "on_regression": _Field('"rollback" or "no-go"', _is_str),
}


def _inherited(
    where: str, section: str, targets: Mapping[str, Any], name: str, chain: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Target *name*'s table with what it ``extends`` merged in: its own keys win, tables merge key by key."""
    table = targets[name]
    parent = table.get("extends")
    if parent is None:
        return dict(table)
    label = f"[{section}targets.{name}] extends"
    if not isinstance(parent, str):
        raise ConfigError(where, label, _got(parent), "expected the name of another target")
    if parent == name or parent in chain:
        path = " -> ".join([*chain, name, parent])
        raise ConfigError(where, label, f"makes a cycle: {path}", "let one of them extend none")
    if parent not in targets:
        close = difflib.get_close_matches(parent, list(targets), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known targets: {', '.join(sorted(targets))}"
        raise ConfigError(where, label, f"names unknown target '{parent}'", hint)
    base = _inherited(where, section, targets, parent, (*chain, name))
    return _merged(base, {key: value for key, value in table.items() if key != "extends"})


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """*base* with *over* on top; a table in both is merged key by key, anything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        below = out.get(key)
        out[key] = _merged(below, value) if isinstance(value, dict) and isinstance(below, dict) else value
    return out


def _check_target_shape(where: str, label: str, table: Mapping[str, Any]) -> None:
    _check_keys(where, label, table, _TARGET_KEYS)
    if "auth" in table:
        _check_keys(where, label[:-1] + ".auth]", table["auth"], _AUTH_KEYS)
        _check_auth(where, label[:-1] + ".auth]", table["auth"])
    if "smoke_user" in table:
        user_label = label[:-1] + ".smoke_user]"
        _check_keys(where, user_label, table["smoke_user"], _SMOKE_USER_KEYS)
        if "register_path" not in table["smoke_user"]:
            raise ConfigError(where, user_label, "has no register_path", 'add register_path = "/api/..."')
    if "watch" in table:
        _check_keys(where, label[:-1] + ".watch]", table["watch"], _WATCH_KEYS)
    if "rollback" in table:
        _check_keys(where, label[:-1] + ".rollback]", table["rollback"], _ROLLBACK_KEYS)
    if "compare" in table:
        _check_keys(where, label[:-1] + ".compare]", table["compare"], _COMPARE_KEYS)
    if "ui" in table:
        _check_keys(where, label[:-1] + ".ui]", table["ui"], _UI_KEYS)
    if "migrations" in table:
        check_migrations(where, label[:-1] + ".migrations]", table["migrations"])
    if "launch" in table:
        launch_label = label[:-1] + ".launch]"
        _check_keys(where, launch_label, table["launch"], _LAUNCH_KEYS)
        if "command" not in table["launch"]:
            raise ConfigError(where, launch_label, "has no command", 'add command = "..."')


def _auth_kind(table: Mapping[str, Any]) -> str:
    """The way an ``[auth]`` table logs in, as ``AuthSettings.kind`` will say; every way it sets, first."""
    ways = _auth_ways(table)
    return ways[0] if ways else ("token" if table.get("token") else "login")


def _auth_ways(table: Mapping[str, Any]) -> list[str]:
    return [
        kind
        for kind, present in (
            ("basic", "scheme" in table),
            ("api_key", "header" in table),
            ("session", "session" in table),
            ("client_credentials", table.get("grant") == "client_credentials"),
        )
        if present
    ]


def _check_auth(where: str, label: str, table: Mapping[str, Any]) -> None:
    """One way to log in per target, with the keys it needs and none it would ignore."""
    for key, choices in _AUTH_CHOICES.items():
        value = table.get(key)
        if value is not None and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f'did you mean "{close[0]}"?' if close else f"expected {_quoted(choices)}"
            raise ConfigError(where, f"{label} {key}", f"is '{value}'", hint)
    ways = _auth_ways(table)
    if len(ways) > 1:
        shown = " and ".join(_way_shown(way, table) for way in ways)
        raise ConfigError(where, label, f"sets both {shown}", "choose one way to log in")
    kind = _auth_kind(table)
    if kind in _LOGIN_KINDS:
        for key in table:
            if key in _CSRF_KEYS:
                raise ConfigError(where, f"{label} {key}", 'needs session = "cookie"', f"add it, or remove {key}")
            if key in _OAUTH_KEYS and "grant" not in table:
                raise ConfigError(
                    where,
                    f"{label} {key}",
                    'needs grant = "password" or "client_credentials"',
                    f"add one, or remove {key}",
                )
        return
    _, needed, allowed = _AUTH_WAYS[kind]
    shown = _way_shown(kind, table)
    for key in table:
        if key not in allowed:
            raise ConfigError(where, f"{label} {key}", f"does not apply with {shown}", f"remove {key}")
    missing = [key for key in needed if not table.get(key)]
    if missing:
        raise ConfigError(
            where, label, f"{shown} needs {_and(list(needed))}, and has no {_and(missing)}", f"add {_and(missing)}"
        )


def _way_shown(kind: str, table: Mapping[str, Any]) -> str:
    return f'header = "{table["header"]}"' if kind == "api_key" else _AUTH_WAYS[kind][0]


def _quoted(choices: tuple[str, ...]) -> str:
    return " or ".join(f'"{choice}"' for choice in choices)


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def check_migrations(where: str | None, label: str, table: Mapping[str, Any]) -> None:
    """Validate a ``[migrations]`` table: known keys and types, a known tool, its keys, its required keys."""
    _check_keys(where or "", label, table, _MIGRATIONS_KEYS)
    given = {key for key, value in table.items() if value != ""}  # "${VAR:-}" may expand to nothing
    tool = table.get("tool") or None
    if tool is None:
        tool_keys = sorted(set(table) - set(_SHARED_MIGRATION_KEYS))
        if tool_keys:
            raise ConfigError(
                where, label, f"has {tool_keys[0]} but no tool", f"add tool = one of {', '.join(MIGRATION_TOOLS)}"
            )
        if not table.get("tables") and not table.get("columns"):
            raise ConfigError(
                where, label, "checks nothing", f'add tool = one of {", ".join(MIGRATION_TOOLS)}, or tables = ["..."]'
            )
        return
    if tool not in MIGRATION_TOOLS:
        close = difflib.get_close_matches(tool, MIGRATION_TOOLS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known tools: {', '.join(MIGRATION_TOOLS)}"
        raise ConfigError(where, f"{label} tool", f"is '{tool}'", hint)
    allowed = _TOOL_KEYS[tool]
    for key in table:
        if key not in allowed and key not in _SHARED_MIGRATION_KEYS:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"its keys: {', '.join(allowed)}"
            raise ConfigError(where, f"{label} {key}", f"is not a key of tool '{tool}'", hint)
    if tool == "alembic":
        if "revision" in given and "script_location" in given:
            raise ConfigError(
                where,
                label,
                "has both revision and script_location",
                "give one: revision pins the revision, script_location reads the head from Alembic's scripts",
            )
        if "revision" not in given and "script_location" not in given:
            raise ConfigError(
                where,
                label,
                "has tool 'alembic' but no revision or script_location",
                'add revision = "<revision id>", or script_location = "migrations" (relative to the config file)',
            )
    elif tool == "django":
        if "apps" not in given and "migrations_dir" not in given:
            raise ConfigError(
                where,
                label,
                "has tool 'django' but no apps or migrations_dir",
                'add apps = ["<app label>"], or migrations_dir = "." (the folder holding <app>/migrations/)',
            )
    elif tool in ("flyway", "golang-migrate", "dbmate", "rails") and "version" not in given:
        raise ConfigError(
            where,
            label,
            f"has tool '{tool}' but no version",
            'add version = "...", the latest migration of this deploy',
        )


def build_migrations(table: Mapping[str, Any], base: Path) -> MigrationSettings:
    """A checked ``[migrations]`` table as MigrationSettings; relative paths are resolved against *base*."""

    def path(key: str) -> Path | None:
        value = table.get(key)
        return (base / value).resolve() if value else None

    version = table.get("version")
    return MigrationSettings(
        tool=table.get("tool") or None,
        revision=table.get("revision") or None,
        script_location=path("script_location"),
        apps=tuple(table.get("apps", ())),
        migrations_dir=path("migrations_dir"),
        version=str(version) if version not in (None, "") else None,
        schema=table.get("schema") or None,
        tables=tuple(table.get("tables", ())),
        columns=MappingProxyType({name: tuple(cols) for name, cols in table.get("columns", {}).items()}),
    )


def _check_keys(where: str, label: str, table: Mapping[str, Any], known: Mapping[str, _Field]) -> None:
    for key, value in table.items():
        spec = known.get(key)
        if spec is None:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
            problem = f"unknown key '{key}'" if label else f"has unknown key '{key}'"
            raise ConfigError(where, label, problem, hint)
        if not spec.check(value):
            raise ConfigError(where, f"{label} {key}".strip(), _got(value), f"expected {spec.expected}")


def _check_url(where: str | None, key: str, url: str, schemes: tuple[str, ...]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.netloc:
        shown = redact_url(url)
        raise ConfigError(
            where,
            key,
            f"is '{shown}'",
            f"expected an absolute {' or '.join(schemes)} URL such as '{schemes[-1]}://host'",
        )


def _trace_url(where: str, label: str, url: str | None) -> str:
    """``trace_url``, checked: an http(s) URL with ``{trace_id}`` where the trace id goes ("" when not set)."""
    if url is None:
        return ""
    try:
        parts = urlsplit(url.replace(TRACE_ID_FIELD, "0"))  # as it will be, with an id in place
        absolute = parts.scheme in ("http", "https") and bool(parts.netloc)
    except ValueError:  # "http://[::1": an unclosed IPv6 host
        absolute = False
    if not absolute or TRACE_ID_FIELD not in url:
        raise ConfigError(
            where,
            f"{label} trace_url",
            f"is '{redact_url(url)}', " + ("without {trace_id}" if absolute else "not an absolute http(s) URL"),
            "expected your tracing UI's address of a trace, with {trace_id} where the id goes, "
            "e.g. 'https://tracing.example.com/trace/{trace_id}'",
        )
    return url


def _check_path(where: str, key: str, path: Any) -> None:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigError(where, key, _got(path), "expected a path starting with '/'")


def _derive_ws_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path, "", ""))


def _url_secret(url: str) -> str:
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


def _str_list(where: str, key: str, value: Any) -> list[str]:
    if not _is_str_list(value):
        raise ConfigError(where, key, _got(value), "expected a list of strings")
    return list(value)


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return "is a table"
    if isinstance(value, list):
        return "is a list" if value else "is an empty list"
    return f"is {type(value).__name__} {value!r}" if not isinstance(value, str) else f"is '{value}'"


def _names(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)
