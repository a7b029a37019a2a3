"""The configuration model: a deploy target and the checklist file, typed and frozen (no parsing, no pytest).

What most of the package imports.  Reading, validating and expanding ``deploysmoke.toml`` is
``pytest_deploysmoke.config.parse``; the run's resolved settings are ``pytest_deploysmoke.config.settings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

from pytest_deploysmoke.config.redaction import Redactor, Secret
from pytest_deploysmoke.config.version_source import VersionSource
from pytest_deploysmoke.perf.budgets import Budget
from pytest_deploysmoke.perf.compare import CompareSettings
from pytest_deploysmoke.perf.rollback import RollbackRules
from pytest_deploysmoke.results.manual import ManualItem

CONFIG_FILENAME: Final = "deploysmoke.toml"
DEFAULT_PHASES: Final = (
    "preflight",
    "migrations",
    "health",
    "auth",
    "features",
    "performance",
    "monitoring",
)
DEFAULT_GATES: Final = ("preflight", "migrations", "health", "auth")
DEFAULT_PHASE: Final = "features"
ADHOC_TARGET: Final = "adhoc"
#: Requests a ``latency()`` measurement sends when neither the call, --deploy-samples nor the target says.
DEFAULT_SAMPLES: Final = 20
#: The share of an endpoint's calls that may need a retry before the verdict is NO-GO (``max_retried``).
DEFAULT_MAX_RETRIED: Final = 0.10
#: The most requests one ``latency()`` measurement may send (warm-up not counted).
MAX_SAMPLES: Final = 10_000
#: What ``trace_url`` holds where the trace id goes.
TRACE_ID_FIELD: Final = "{trace_id}"


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


#: How a target's checks log in, as ``AuthSettings.kind`` reads it from ``[targets.X.auth]``:
#: ``token`` a static bearer token, ``login`` a JSON or form login answering with a token (OAuth2
#: password grant included), ``client_credentials`` the OAuth2 client credentials grant, ``session``
#: a login that sets a session cookie, ``basic`` HTTP Basic on every request, ``api_key`` a static
#: token in a header of its own.
AuthKind = Literal["token", "login", "client_credentials", "session", "basic", "api_key"]
#: The header a CSRF token goes back in when csrf_cookie or csrf_field is set and csrf_header is not (Django's).
DEFAULT_CSRF_HEADER: Final = "X-CSRFToken"


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """How the auth fixtures log in to a target (``[targets.X.auth]``); ``kind`` says which way."""

    login_path: str = "/login"
    username: str | None = None
    password: Secret | None = None
    username_field: str = "username"
    password_field: str = "password"
    token_path: str = "access_token"
    token: Secret | None = None
    #: The login body: ``"json"``, or ``"form"`` (``application/x-www-form-urlencoded``).
    body: Literal["json", "form"] = "json"
    #: An OAuth2 grant: ``"password"`` (a login with ``grant_type=password``) or ``"client_credentials"``.
    grant: Literal["password", "client_credentials"] | None = None
    #: Where an OAuth2 grant is posted: a path on the target or an absolute URL; ``login_path`` when unset.
    token_url: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    scope: str | None = None
    audience: str | None = None
    #: How the OAuth2 client authenticates: ``"basic"`` (an ``Authorization`` header) or ``"body"`` (form fields).
    client_auth: Literal["basic", "body"] = "basic"
    #: ``"cookie"``: the login sets a session cookie, which the authed clients carry.
    session: Literal["cookie"] | None = None
    csrf_cookie: str | None = None
    csrf_header: str | None = None
    csrf_field: str | None = None
    #: ``"basic"``: username and password go as HTTP Basic on every authed request; there is no login call.
    scheme: Literal["basic"] | None = None
    #: A header of its own for the static ``token`` (``X-Api-Key``), sent without ``Bearer``.
    header: str | None = None
    #: The header of the login answer that carries the token, instead of ``token_path`` in its body.
    token_header: str | None = None

    @property
    def kind(self) -> AuthKind:
        """Which way the fixtures log in (the parser allows one way per target)."""
        if self.scheme == "basic":
            return "basic"
        if self.header:
            return "api_key"
        if self.session == "cookie":
            return "session"
        if self.grant == "client_credentials":
            return "client_credentials"
        if self.token:
            return "token"
        return "login"

    @property
    def post_path(self) -> str:
        """Where the login or the token request is posted: ``token_url`` for a grant, else ``login_path``."""
        return self.token_url if self.grant and self.token_url else self.login_path


@dataclass(frozen=True, slots=True)
class SmokeUserSettings:
    """How the ``smoke_user`` fixture registers and deletes a throwaway user (``[targets.X.smoke_user]``)."""

    register_path: str
    prefix: str = "smoke-"
    email_domain: str = "example.com"
    username_field: str = "email"
    password_field: str = "password"
    id_path: str = "id"
    delete_path: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class LaunchSettings:
    """A local command that serves the target for the run (``[targets.X.launch]``)."""

    command: str
    ready_path: str
    timeout: float = 30.0
    env: Mapping[str, str] = field(default_factory=_empty)


#: The migration tools whose own table the built-in migrations check reads (``[targets.X.migrations] tool``).
MIGRATION_TOOLS: Final = ("alembic", "django", "flyway", "golang-migrate", "dbmate", "rails", "prisma", "liquibase")
MigrationTool = Literal["alembic", "django", "flyway", "golang-migrate", "dbmate", "rails", "prisma", "liquibase"]


@dataclass(frozen=True, slots=True)
class MigrationSettings:
    """Which migrations must have landed in the target's database (``[targets.X.migrations]``).

    Paths are absolute: the config file's are resolved against its folder.
    """

    tool: MigrationTool | None = None
    revision: str | None = None  # alembic: the revision alembic_version must be at
    script_location: Path | None = None  # alembic: read the head(s) from this script directory
    apps: tuple[str, ...] = ()  # django: app labels
    migrations_dir: Path | None = None  # django: the folder holding <app>/migrations/
    version: str | None = None  # flyway, golang-migrate, dbmate, rails, prisma, liquibase
    schema: str | None = None  # where the tool's table (and tables) live; None: the session's current schema
    tables: tuple[str, ...] = ()
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)


#: Methods a watch probe may send: the watch window only reads.
WATCH_METHODS: Final = ("GET", "HEAD")


@dataclass(frozen=True, slots=True)
class WatchProbe:
    """One thing the watch window samples: an HTTP request, or a WebSocket connect (``kind="ws"``)."""

    kind: Literal["http", "ws"]
    method: str  # "GET", "HEAD"; "WS" for a WebSocket
    path: str  # with its query, as sent
    health: bool = False  # the "health" probe, which the consecutive-failures rule watches

    @property
    def action(self) -> str:
        """``GET /health``, ``ws /ws/tickers``: how lines and reasons name it."""
        return f"ws {self.path}" if self.kind == "ws" else f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """The watch window after the checks (``[targets.X.watch]``): off while ``duration`` is 0."""

    duration: float = 0.0
    every: float = 900.0
    probes: tuple[WatchProbe, ...] = ()
    metrics_url: str | None = None


@dataclass(frozen=True, slots=True)
class UiSettings:
    """Browser checks on the target (``[targets.X.ui]``): which Chromium, where the token goes, screenshots."""

    browser_path: str | None = None  # a Chromium to launch instead of Playwright's own download
    token_storage: str | None = None  # "localStorage:KEY", "sessionStorage:KEY" or "cookie:NAME"
    screenshots: Literal["always", "on-failure", "off"] = "always"


@dataclass(frozen=True, slots=True, repr=False)
class Target:
    """One deploy target, resolved: variables expanded, ``{port}`` substituted, secrets wrapped."""

    name: str
    base_url: str
    ws_url: str
    health_path: str = "/health"
    production: bool = False
    version: str = ""
    #: Where the service publishes its version (``version_from``); None: the health answer's JSON ``version``.
    version_from: VersionSource | None = None
    #: The readiness wait (``wait_ready``, ``--deploy-wait``) also waits until ``version`` is the one answering.
    wait_for_version: bool = False
    timeout: float = 10.0
    verify_tls: bool = True
    headers: Mapping[str, str] = field(default_factory=_empty)
    database_url: Secret | None = None
    redis_url: Secret | None = None
    required_env: tuple[str, ...] = ()
    wait_ready: float = 0.0
    retries: int = 0
    #: The share of an endpoint's calls that may need a retry (at least two retried calls) before it is NO-GO.
    max_retried: float = DEFAULT_MAX_RETRIED
    budgets: Mapping[str, Budget] = field(default_factory=_empty)
    allow_destructive: bool = False
    samples: int = DEFAULT_SAMPLES
    vars: Mapping[str, Any] = field(default_factory=_empty)
    auth: AuthSettings | None = None
    smoke_user: SmokeUserSettings | None = None
    launch: LaunchSettings | None = None
    migrations: MigrationSettings | None = None
    watch: WatchSettings = field(default_factory=WatchSettings)
    rollback: RollbackRules = field(default_factory=RollbackRules)
    ui: UiSettings = field(default_factory=UiSettings)
    #: ``"POST /search"``: requests that only read although their method could write (searches,
    #: GraphQL queries); the production guard lets checks not marked destructive send them.
    read_only_requests: frozenset[str] = frozenset()
    #: ``"list"``: destructive checks held back on production are listed, by design; ``"warn"``: they also warn.
    held_back: Literal["list", "warn"] = "list"
    #: The checklist's manual items: the shared ``[manual.ID]`` ones, replaced by the target's own of the same ID.
    manual: tuple[ManualItem, ...] = ()
    #: Where a trace is shown, with ``{trace_id}`` (``https://tracing.example.com/trace/{trace_id}``); "" when not set.
    trace_url: str = ""
    #: How a run is judged against a baseline run or a stable target (``[targets.X.compare]``).
    compare: CompareSettings = field(default_factory=CompareSettings)
    secrets: tuple[Secret, ...] = field(default=(), compare=False)

    @property
    def version_source(self) -> VersionSource:
        """Where the version is read: ``version_from``, else the health answer's JSON ``version``."""
        return self.version_from or VersionSource.default(self.health_path)

    @property
    def checks_version(self) -> bool:
        """Whether the built-in ``deploysmoke::version`` check runs: the target sets ``version`` or ``version_from``."""
        return bool(self.version or self.version_from)

    def trace_link(self, trace_id: str) -> str:
        """The address of trace *trace_id* in the target's tracing UI (``trace_url``), or "" without one."""
        if not self.trace_url or not trace_id:
            return ""
        return self.trace_url.replace(TRACE_ID_FIELD, trace_id)

    def redactor(self) -> Redactor:
        """Return a Redactor that knows every secret of this target."""
        redactor = Redactor()
        redactor.add_all(self.secrets)
        return redactor

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={_plain(getattr(self, name))!r}" for name in self.__dataclass_fields__ if name != "secrets"
        )
        return self.redactor().redact(f"Target({shown})")


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, MappingProxyType) else value


@dataclass(frozen=True, slots=True)
class DeployConfig:
    """The validated configuration file: phases, gates and the (unexpanded) target tables."""

    path: Path | None
    phases: tuple[str, ...] = DEFAULT_PHASES
    gates: tuple[str, ...] = DEFAULT_GATES
    default_phase: str = DEFAULT_PHASE
    targets: Mapping[str, Mapping[str, Any]] = field(default_factory=_empty)
    section: str = ""
    #: The top-level ``[manual.ID]`` tables (validated, unexpanded), shared by every target.
    manual: Mapping[str, Mapping[str, Any]] = field(default_factory=_empty)

    @property
    def display_path(self) -> str:
        """The file name as it should appear in messages."""
        if self.path is None:
            return "(no config file)"
        return display_path(self.path) + (f" [{self.section.rstrip('.')}]" if self.section else "")


def display_path(path: Path) -> str:
    """*path* as messages show it: relative to the working directory when it can be."""
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - different drive on Windows
        return str(path)
