"""The stand-in's settings, read once from the environment at start (the web app and the worker alike)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: Fault switches for BACKTEST_FAULTS, each reproducing a real bad deploy of the 2.0.2 hotfix.
FAULTS = {
    "result_404": "GET /api/backtest/result/{id} answers 404 again (the route is not mounted: the bug 2.0.2 fixes)",
    "version_2_0_1": "the service reports version 2.0.1, the release the hotfix replaces",
    "worker_stuck": "the python worker stops at 30% and never finishes a backtest",
    "no_performance": "the python worker writes results without the performance field",
    "download_link_404": (
        "the page's Download result links to /api/backtest/download/{id}, a route the API does not have "
        "(a page built for another API version)"
    ),
}
VERSION = "2.0.2"
REPLACED_VERSION = "2.0.1"
STEP_SECONDS = 0.12  # per tenth of a backtest: a run takes about 1.2 s


class SettingsError(RuntimeError):
    """The environment does not configure the service; the message says which variable to fix."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What the service and its worker need from the environment."""

    database_url: str
    data_dir: str = ""
    version: str = VERSION
    faults: frozenset[str] = frozenset()
    seed_backtest_id: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings, failing with the variable to fix when one is missing or wrong."""
        if not environ.get("DATABASE_URL"):
            raise SettingsError("DATABASE_URL is not set; the service keeps its backtests in PostgreSQL")
        faults = frozenset(name.strip() for name in environ.get("BACKTEST_FAULTS", "").split(",") if name.strip())
        unknown = sorted(faults - FAULTS.keys())
        if unknown:
            raise SettingsError(
                f"BACKTEST_FAULTS names unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}"
            )
        return cls(
            database_url=environ["DATABASE_URL"],
            data_dir=environ.get("BACKTEST_DATA_DIR", ""),
            version=REPLACED_VERSION if "version_2_0_1" in faults else environ.get("APP_VERSION") or VERSION,
            faults=faults,
            seed_backtest_id=environ.get("SEED_BACKTEST_ID") or None,
        )

    def fault(self, name: str) -> bool:
        """Whether the fault switch *name* is on."""
        return name in self.faults
