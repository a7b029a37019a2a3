"""``--deploy-show-config``: the selected target as the run resolves it, as TOML, secrets masked.

Like ``docker compose config``: what ``extends`` brings in is merged, ``${VAR}`` is expanded, the
command-line overrides are folded in and every secret is masked, so the output is a config file
that says what the run would use.  ``{port}`` of a launched target is left as written: the port
is chosen when the run starts.
"""

from __future__ import annotations

import os
from typing import Any, Final

import pytest

from pytest_deploysmoke.config.redaction import MASK, Redactor
from pytest_deploysmoke.config.settings import RunSettings

#: Keys whose whole value is a credential, wherever they appear in a target's tables.
SECRET_KEYS: Final = frozenset({"password", "token", "client_secret", "secret", "api_key"})


def show(config: pytest.Config) -> int:
    """Print the resolved target of *config*'s run to stdout and return the exit code (0).

    Raises:
        pytest.UsageError: no target is selected, or the configuration is invalid.
    """
    import tomli_w

    from pytest_deploysmoke.config import settings as run_settings
    from pytest_deploysmoke.config.parse import expand_target
    from pytest_deploysmoke.errors import ConfigError

    if run_settings.selected_target(config) is None:
        raise pytest.UsageError(
            "--deploy-show-config shows the selected target; select one with --deploy-target NAME "
            "(or $DEPLOYSMOKE_TARGET, or --deploy-base-url URL)"
        )
    try:
        settings = run_settings.configure(config)
        assert settings is not None  # a target is selected
        table, _ = expand_target(
            settings.config,
            settings.target.name,
            os.environ,
            base_url=config.option.deploysmoke_base_url,
            source=settings.target_source,
        )
    except ConfigError as exc:
        raise pytest.UsageError(run_settings.get_redactor(config).redact(str(exc))) from None
    _fold_options(table, config.option, settings)
    for item in table.get("manual", {}).values():  # the phase an item without one takes
        item.setdefault("phase", settings.config.default_phase)
    document = {
        "phases": list(settings.config.phases),
        "gates": list(settings.config.gates),
        "default_phase": settings.config.default_phase,
        "targets": {settings.target.name: _masked(table, run_settings.get_redactor(config))},
    }
    print(
        f"# [targets.{settings.target.name}] of {settings.config.display_path} as the run resolves it:\n"
        f"# inherited tables merged, ${{VAR}} expanded, command-line options folded in, secrets shown as {MASK}"
    )
    print(tomli_w.dumps(document), end="")
    return 0


def _fold_options(table: dict[str, Any], option: Any, settings: RunSettings) -> None:
    """Write the command-line overrides the run applies into *table*, under the keys they override."""
    target = settings.target
    if option.deploysmoke_allow_destructive:
        table["allow_destructive"] = True
    if option.deploysmoke_wait is not None:
        table["wait_ready"] = target.wait_ready
    if option.deploysmoke_samples is not None:
        table["samples"] = target.samples
    if option.deploysmoke_watch is not None:
        table.setdefault("watch", {})["duration"] = option.deploysmoke_watch
    if option.deploysmoke_watch_every is not None:
        table.setdefault("watch", {})["every"] = option.deploysmoke_watch_every
    if getattr(option, "deploysmoke_browser_path", None):
        table.setdefault("ui", {})["browser_path"] = target.ui.browser_path


def _masked(value: Any, redactor: Redactor, key: str = "") -> Any:
    """*value* with credentials masked: whole under a secret key, else every secret the run knows."""
    if isinstance(value, dict):
        return {k: _masked(v, redactor, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, redactor, key) for v in value]
    if isinstance(value, str):
        return MASK if value and key.lower() in SECRET_KEYS else redactor.redact(value)
    return value
