"""The example suites' configs: every target resolves, and prod is its staging on the production deploy."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_deploysmoke.config.parse import build_target, load_config

EXAMPLES = Path(__file__).parent.parent.parent / "conftest_examples"
CONFIGS = sorted(EXAMPLES.glob("*/deploysmoke.toml"))


def environ_for(path: Path) -> dict[str, str]:
    """A value for every ${NAME} the file uses: a URL of its own where the name says so."""
    names = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", path.read_text(encoding="utf-8")))
    return {name: _value(name) for name in names}


def _value(name: str) -> str:
    if "DATABASE" in name:
        return f"postgresql://u:pw-1234@{name.lower()}/db"
    if "REDIS" in name:
        return f"redis://{name.lower()}:6379/0"
    if name.endswith("_ON_REGRESSION"):  # a [compare] table's choice: "rollback" or "no-go"
        return "no-go"
    return f"https://{name.lower()}.example" if name.endswith("_URL") else "value"


@pytest.mark.parametrize("path", CONFIGS, ids=[p.parent.name for p in CONFIGS])
def test_every_target_resolves_and_prod_extends_staging(path: Path) -> None:
    """Each target of the example builds; prod differs from staging only where a production deploy does."""
    config = load_config(path)
    environ = environ_for(path)
    targets = {name: build_target(config, name, environ, port=8000) for name in config.targets}
    assert set(targets) == {"local", "staging", "prod"}
    staging, prod = targets["staging"], targets["prod"]
    assert (staging.production, prod.production) == (False, True)
    assert prod.base_url != staging.base_url
    assert prod.auth == staging.auth and prod.headers == staging.headers and prod.health_path == staging.health_path
    same = replace(prod, name="staging", base_url=staging.base_url, ws_url=staging.ws_url, production=False)
    differs = {key for key in type(prod).__dataclass_fields__ if getattr(same, key) != getattr(staging, key)}
    assert differs <= {"wait_ready", "database_url", "redis_url", "required_env", "vars", "watch", "rollback"}
