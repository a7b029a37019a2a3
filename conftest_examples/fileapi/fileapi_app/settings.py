"""The stand-in's settings, read once from the environment at start."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Fault switches for FILEAPI_FAULTS, each reproducing a real bad deploy.
FAULTS = {
    "debug_on": "the deploy runs with DEBUG=true: error pages show a stack trace and a settings dump",
    "download_corrupt": "downloads return different bytes than were uploaded (one byte flipped)",
    "slow_list": "GET /files takes 1.5 s",
    "admin_port_open": "the admin console listens on ADMIN_PORT, reachable from outside",
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TRUE, FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")
MIN_SECRET_BYTES = 32

log = logging.getLogger("fileapi")


class SettingsError(RuntimeError):
    """The environment does not configure the service; the message says which variable to fix."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What the service needs from its environment."""

    database_url: str
    data_dir: Path
    secret_key: str
    environment: str = "production"
    debug: bool = False
    log_level: str = "WARNING"
    version: str = "2.4.0"
    admin_port: int = 8081
    faults: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings, failing with the variable to fix when one is missing or wrong."""
        missing = [name for name in ("DATABASE_URL", "FILEAPI_DATA_DIR") if not environ.get(name)]
        if missing:
            raise SettingsError(f"{', '.join(missing)} not set; the service needs a database and a data directory")
        faults = frozenset(name.strip() for name in environ.get("FILEAPI_FAULTS", "").split(",") if name.strip())
        unknown = sorted(faults - FAULTS.keys())
        if unknown:
            known = ", ".join(FAULTS)
            raise SettingsError(f"FILEAPI_FAULTS names unknown fault(s) {', '.join(unknown)}; known: {known}")
        debug = environ.get("DEBUG", "false").strip().lower()
        if debug not in TRUE + FALSE:
            raise SettingsError(f"DEBUG is {debug!r}; expected true or false")
        log_level = environ.get("LOG_LEVEL", "WARNING").strip().upper()
        if log_level not in LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL is {log_level!r}; expected one of {', '.join(LOG_LEVELS)}")
        admin_port = environ.get("ADMIN_PORT", "8081")
        if not admin_port.isdigit() or not 0 < int(admin_port) < 65536:
            raise SettingsError(f"ADMIN_PORT is {admin_port!r}; expected a TCP port number")
        return cls(
            database_url=environ["DATABASE_URL"],
            data_dir=Path(environ["FILEAPI_DATA_DIR"]),
            secret_key=environ.get("SECRET_KEY") or _throwaway_secret(),
            environment=environ.get("ENVIRONMENT", "production").strip() or "production",
            # The debug_on fault is a deploy that shipped DEBUG=true, whatever the variable says.
            debug=debug in TRUE or "debug_on" in faults,
            log_level=log_level,
            version=environ.get("APP_VERSION") or "2.4.0",
            admin_port=int(admin_port),
            faults=faults,
        )

    def dump(self) -> dict[str, object]:
        """Every setting by its variable name, values included: what a debug error page shows."""
        return {
            "ADMIN_PORT": self.admin_port,
            "APP_VERSION": self.version,
            "DATABASE_URL": self.database_url,
            "DEBUG": self.debug,
            "ENVIRONMENT": self.environment,
            "FILEAPI_DATA_DIR": str(self.data_dir),
            "LOG_LEVEL": self.log_level,
            "SECRET_KEY": self.secret_key,
        }


def _throwaway_secret() -> str:
    # Receipts signed with it do not survive a restart, which a real deploy would notice.
    log.warning("SECRET_KEY is not set; using a random key for this process (upload receipts will not verify later)")
    return secrets.token_urlsafe(MIN_SECRET_BYTES)
