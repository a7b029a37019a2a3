"""Real PostgreSQL, Redis and Prometheus Pushgateway servers on loopback for the test suite, used by ``tasks.py test``.

``ensure_packages()`` installs the servers with apt when they are missing (as root only), and
``ensure_packages(browser=True)`` Debian's ``chromium`` as well, for the HTML report tests.
``running_services()`` starts a throwaway PostgreSQL, a throwaway Redis and a throwaway
Pushgateway (Debian's ``prometheus-pushgateway``, which ``--deploy-pushgateway`` is tested
against), each on a free 127.0.0.1 port with its data in a temporary directory, yields the
environment variables the tests read (``DEPLOYSMOKE_TEST_DSN``, ``DEPLOYSMOKE_TEST_ADMIN_DSN``,
``DEPLOYSMOKE_TEST_REDIS_URL``, ``DEPLOYSMOKE_TEST_PUSHGATEWAY_URL``), and stops the servers
and removes their directories on exit.
A variable the user already set means they bring that server: it is passed on and nothing is
started for it.  Servers are stopped by their own PID or process group, never by name.

PostgreSQL comes from Debian's ``postgresql`` package (``/usr/lib/postgresql/*/bin``).  When
those binaries are missing and the process is not root (so apt cannot install them), the
PostgreSQL bundled in the PyPI package ``pgserver`` is used instead, installed with pip when
missing: into the running interpreter's environment, or into ``~/.cache/deploysmoke/pgserver``
when that interpreter is a system one pip may not change (PEP 668).  Only its binaries are
used: the server is started exactly as the Debian one is (TCP on 127.0.0.1, SCRAM passwords,
role and database ``smoke``), because ``pgserver.get_server()`` listens on a unix socket only, trusts every local
connection and, as root, creates a system user and widens the permissions of parent folders.
``DEPLOYSMOKE_PG=pgserver`` picks the pgserver build even when Debian's binaries are present
or the process is root; unset (or ``auto``) means the rule above.  Redis has no such fallback:
there is no working pip build of it, so without root and without ``redis-server`` the error
names the apt command to run, and so has the Pushgateway.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import signal
import site
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Literal
from urllib.parse import quote

DSN_VAR = "DEPLOYSMOKE_TEST_DSN"
ADMIN_DSN_VAR = "DEPLOYSMOKE_TEST_ADMIN_DSN"
REDIS_URL_VAR = "DEPLOYSMOKE_TEST_REDIS_URL"
PUSHGATEWAY_URL_VAR = "DEPLOYSMOKE_TEST_PUSHGATEWAY_URL"
PUSHGATEWAY = "prometheus-pushgateway"  # Debian's package and its binary
PG_SOURCE_VAR = "DEPLOYSMOKE_PG"  # "pgserver" forces the pip-installed PostgreSQL; unset or "auto": see above

READY_TIMEOUT = 30.0  # seconds a server gets to accept connections
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
APT_TIMEOUT = 900.0  # seconds for each apt-get step
PIP_TIMEOUT = 600.0  # seconds for pip to install pgserver
PGSERVER_REQUIREMENT = "pgserver>=0.1.4,<0.2"  # its binaries live in pgserver/pginstall/bin
PG_ADMIN = "deploysmoke_admin"
PG_FALLBACK_USER = "deploysmoke-pg"
SMOKE_ROLE = "smoke"
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package: browser checks and the HTML report tests run it headless
PG_CTL_STOP = ["-m", "fast", "-w", "-t", str(int(STOP_TIMEOUT))]


class ServiceError(RuntimeError):
    """A test server could not be installed, started or reached; the message says what to do."""


@dataclass
class Service:
    """A server started for the test run: stop it with :meth:`stop`."""

    name: str
    url: str
    pid: int
    admin_url: str | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _tempdir: Path | None = field(default=None, repr=False)
    _stop_argv: list[str] | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop the server (its own stop command first, then SIGTERM, then SIGKILL) and remove its files."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if self._stop_argv is not None and (self._process is None or self._process.poll() is None):
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    subprocess.run(
                        self._stop_argv,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        timeout=STOP_TIMEOUT + 5,
                        check=False,
                    )
                    if self._process is not None:
                        self._process.wait(timeout=STOP_TIMEOUT)
            if self._process is not None:
                _terminate(self._process)
        finally:
            if self._tempdir is not None:
                shutil.rmtree(self._tempdir, ignore_errors=True)


# -- packages ---------------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The ``bin`` directory of the newest PostgreSQL server under /usr/lib/postgresql, or None."""
    found: list[tuple[tuple[int, ...], Path]] = []
    for postgres in Path("/usr/lib/postgresql").glob("*/bin/postgres"):
        version = tuple(int(part) for part in re.findall(r"\d+", postgres.parent.parent.name))
        if version and os.access(postgres, os.X_OK):
            found.append((version, postgres.parent))
    return max(found)[1] if found else None


def postgres_source(env: Mapping[str, str] | None = None) -> Literal["debian", "pgserver"]:
    """Where the PostgreSQL server comes from: Debian's binaries, or the pgserver package.

    pgserver when ``DEPLOYSMOKE_PG=pgserver``, or when Debian's binaries are missing and the
    process is not root (apt could not install them); Debian's otherwise.
    """
    env = os.environ if env is None else env
    return "pgserver" if _pgserver_reason(env) else "debian"


def _pgserver_reason(env: Mapping[str, str]) -> str:
    """Why PostgreSQL comes from pgserver, in a few words; empty when Debian's binaries are used."""
    choice = env.get(PG_SOURCE_VAR, "").strip().lower()
    if choice not in ("", "auto", "pgserver"):
        raise ServiceError(f"{PG_SOURCE_VAR}={choice!r} is not understood; use 'pgserver', or 'auto' (the default)")
    if choice == "pgserver":
        return f"{PG_SOURCE_VAR}=pgserver"
    if postgres_bindir() is None and os.geteuid() != 0:
        return "no PostgreSQL server under /usr/lib/postgresql, and apt-get needs root"
    return ""


def pgserver_bindir(reason: str = "") -> Path:
    """The ``bin`` directory of the PostgreSQL bundled in the pgserver package; pip installs it if missing.

    The package goes into the running interpreter's environment, or, when that one is managed by
    the system (PEP 668: pip refuses it), into a cache folder of the user's with ``--target``
    (*reason*, why it is needed, goes into the message saying so).  Only its binaries are used,
    found next to the package (``pgserver/pginstall/bin``) without importing it.
    """
    package = _pgserver_package()
    if package is None:
        if _externally_managed():
            target = _pgserver_cache()
            argv = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
            where = f"into {target}, since pip may not install into this system-managed Python"
        else:
            argv = [sys.executable, "-m", "pip", "install", "--quiet"]
            where = "into this Python's environment"
        argv.append(PGSERVER_REQUIREMENT)
        print(
            f"devservices: PostgreSQL will come from pgserver, a PyPI package that bundles it"
            f" ({reason or 'requested'}); installing it {where} with\n    {' '.join(argv)}",
            flush=True,
        )
        try:
            code = subprocess.call(argv, stdin=subprocess.DEVNULL, timeout=PIP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"`{' '.join(argv)}` did not finish within {PIP_TIMEOUT:.0f} s") from None
        if code != 0:
            raise ServiceError(
                f"`{' '.join(argv)}` failed with exit code {code}; install PostgreSQL with\n"
                "    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive"
                " apt-get install -y --no-install-recommends postgresql\n"
                f"or pgserver into this Python ({sys.executable}), or point {DSN_VAR} at a server of your own"
            )
        _add_user_site()  # pip falls back to --user when site-packages is read-only
        importlib.invalidate_caches()
        package = _pgserver_package()
        if package is None:
            raise ServiceError(f"pip installed pgserver but {sys.executable} cannot find it")
    bindir = package / "pginstall" / "bin"
    needed = ("initdb", "postgres", "pg_ctl", "pg_isready", "psql")
    if not all(os.access(bindir / name, os.X_OK) for name in needed):
        raise ServiceError(
            f"pgserver has no PostgreSQL binaries ({', '.join(needed)}) in {bindir};"
            f" remove {package} and run again to reinstall it"
        )
    return bindir


def _pgserver_package() -> Path | None:
    """The pgserver package folder: on this interpreter's path, else in the user's cache, else None."""
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    cached = _pgserver_cache() / "pgserver"
    return cached if (cached / "pginstall" / "bin" / "postgres").exists() else None


def _pgserver_cache() -> Path:
    """Where pgserver is installed for a system-managed Python: ``$XDG_CACHE_HOME/deploysmoke``."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "deploysmoke" / "pgserver"


def _externally_managed() -> bool:
    """True for a system Python that pip refuses to install into (PEP 668); never for a venv."""
    if sys.prefix != sys.base_prefix:
        return False
    return (Path(sysconfig.get_path("stdlib")) / "EXTERNALLY-MANAGED").exists()


def _add_user_site() -> None:
    """Put the user site-packages on sys.path if pip just created it (it is skipped at start when absent)."""
    if not site.ENABLE_USER_SITE:
        return
    user_site = site.getusersitepackages()
    if os.path.isdir(user_site) and user_site not in sys.path:
        site.addsitedir(user_site)


def _missing_packages(env: Mapping[str, str]) -> list[str]:
    missing = []
    if not env.get(DSN_VAR) and postgres_source(env) == "debian" and postgres_bindir() is None:
        missing.append("postgresql")
    if not env.get(REDIS_URL_VAR) and shutil.which("redis-server") is None:
        missing.append("redis-server")
    if not env.get(PUSHGATEWAY_URL_VAR) and shutil.which(PUSHGATEWAY) is None:
        missing.append(PUSHGATEWAY)
    return missing


def ensure_packages(env: Mapping[str, str] | None = None, *, browser: bool = False) -> None:
    """Install the PostgreSQL, Redis and Pushgateway servers with apt unless present (or brought via *env*).

    Only root installs with apt; anyone else gets a ServiceError naming the exact command to run,
    except for PostgreSQL, which then comes from pgserver (installed here with pip when missing).
    With *browser*, Debian's ``chromium`` is installed too (the HTML report tests open it).
    """
    env = os.environ if env is None else env
    missing = _missing_packages(env)
    if missing:
        _apt_install(missing, env)
    reason = "" if env.get(DSN_VAR) else _pgserver_reason(env)
    if reason:
        pgserver_bindir(reason)
    if browser:
        ensure_chromium()


def ensure_chromium() -> Path:
    """Debian's headless-capable Chromium at /usr/bin/chromium, installed with apt when missing (root only)."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    if os.geteuid() != 0:
        raise ServiceError(
            f"browser checks and the HTML report tests run in Chromium, and {CHROMIUM} is not installed; install with\n"
            f"    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive {' '.join(install)}"
        )
    print("devservices: installing chromium with apt-get (browser checks, HTML report tests)", flush=True)
    _run_apt(install)
    if not os.access(CHROMIUM, os.X_OK):
        raise ServiceError(f"apt-get finished but {CHROMIUM} is still missing")
    return CHROMIUM


def _apt_install(missing: list[str], env: Mapping[str, str]) -> None:
    install = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        raise ServiceError(
            f"the test suite needs {' and '.join(missing)}, not installed here; install with\n"
            f"    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive {' '.join(install)}\n"
            f"or point {DSN_VAR}, {REDIS_URL_VAR} and {PUSHGATEWAY_URL_VAR} at servers of your own"
        )
    print(f"devservices: installing {' '.join(missing)} with apt-get", flush=True)
    _run_apt(install)
    still_missing = _missing_packages(env)
    if still_missing:
        raise ServiceError(f"apt-get finished but {' and '.join(still_missing)} is still not usable")


def _run_apt(install: list[str]) -> None:
    """``apt-get update``, then *install*, without letting the packages start system-wide servers."""
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with _services_not_started_by_packages():
        for argv in (["apt-get", "update", "-q"], [*install, "-q"]):
            try:
                code = subprocess.call(argv, env=apt_env, stdin=subprocess.DEVNULL, timeout=APT_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise ServiceError(f"`{' '.join(argv)}` did not finish within {APT_TIMEOUT:.0f} s") from None
            if code != 0:
                raise ServiceError(f"`{' '.join(argv)}` failed with exit code {code}")


@contextlib.contextmanager
def _services_not_started_by_packages() -> Iterator[None]:
    """Keep the packages' install scripts from starting system-wide servers (Debian's policy-rc.d)."""
    if POLICY_RC_D.exists():
        yield
        return
    POLICY_RC_D.write_text("#!/bin/sh\n# written by devservices.py for one apt-get install\nexit 101\n")
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC_D.unlink(missing_ok=True)


# -- processes --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the starting process dies (Linux only)."""
    if sys.platform == "linux":
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _spawn(argv: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start *argv* in its own session (so its process group is its own), output to *log*."""
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group of *process* (ours: started in its own session), SIGKILL after 10 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)


def _log_tail(log: Path, lines: int = 20) -> str:
    try:
        text = log.read_text(errors="replace").rstrip()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text.splitlines()[-lines:]) or "    (empty log)"


def _wait_until(
    name: str, ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    """Poll *ready* until it answers True; fail at once if *process* exits, or after *timeout*."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise _StartFailed(f"{name} exited with code {process.returncode} while starting", log)
        if time.monotonic() > deadline:
            raise _StartFailed(f"{name} did not accept connections within {timeout:.0f} s", log)
        time.sleep(0.1)


class _StartFailed(ServiceError):
    def __init__(self, message: str, log: Path) -> None:
        self.log = log
        self.port_taken = "already in use" in _log_tail(log, 200).lower()
        super().__init__(f"{message}; last lines of {log.name}:\n{_log_tail(log)}")


def _start_with_retries(start: Callable[[int], Service], attempts: int = 3) -> Service:
    """Call start(port) with a fresh free port; another try only if the port was taken meanwhile."""
    for attempt in range(attempts):
        try:
            return start(_free_port())
        except _StartFailed as exc:
            if not exc.port_taken or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


# -- PostgreSQL -------------------------------------------------------------------------------


def _postgres_user() -> str | None:
    """The OS user that runs PostgreSQL: None when not root (we run it as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
        return "postgres"
    except KeyError:
        pass
    try:
        pwd.getpwnam(PG_FALLBACK_USER)
    except KeyError:
        print(f"devservices: creating system user {PG_FALLBACK_USER} to run PostgreSQL", flush=True)
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_FALLBACK_USER],
            check=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
    return PG_FALLBACK_USER


def start_postgres(workdir: Path) -> Service:
    """Start a throwaway PostgreSQL on a free 127.0.0.1 port with a role and database ``smoke``.

    Its files live in a new directory under *workdir*, which the server's user must be able to
    reach (root runs it as ``postgres`` via runuser, since PostgreSQL refuses to run as root).
    The server binaries are Debian's, or pgserver's (see :func:`postgres_source`).
    """
    reason = _pgserver_reason(os.environ)
    if reason:
        bindir = pgserver_bindir(reason)
        print(f"devservices: using {_postgres_version(bindir)} bundled with pgserver ({bindir})", flush=True)
    else:
        found = postgres_bindir()
        if found is None:
            raise ServiceError("no PostgreSQL server under /usr/lib/postgresql/*/bin; run ensure_packages()")
        bindir = found
    user = _postgres_user()
    as_user = [] if user is None else ["runuser", "-u", user, "--"]

    def give_to_user(path: Path) -> None:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    tempdir = Path(tempfile.mkdtemp(prefix="deploysmoke-pg-", dir=workdir))
    try:
        give_to_user(tempdir)
        if user is not None:
            if subprocess.call([*as_user, "test", "-w", str(tempdir)], timeout=30) != 0:
                raise ServiceError(f"user {user} cannot write to {tempdir}; pass a workdir it can reach, such as /tmp")
            if reason and not _can_run(as_user, bindir):
                # pgserver under a folder closed to the server's user, such as /root: run a copy
                print(f"devservices: {user} cannot reach {bindir}; copying the server into {tempdir}", flush=True)
                bindir = _copy_pgserver(bindir, tempdir)
            if not _can_run(as_user, bindir):
                raise ServiceError(
                    f"user {user} cannot run {bindir / 'postgres'} (is a parent folder closed to it?);"
                    " run as a non-root user, or install the server where every user can reach it"
                )
        admin_password = secrets.token_urlsafe(24)
        smoke_password = secrets.token_urlsafe(24)
        pwfile = tempdir / "pwfile"
        pwfile.write_text(admin_password + "\n")
        pwfile.chmod(0o600)
        give_to_user(pwfile)
        data = tempdir / "data"
        initdb = [
            *as_user,
            str(bindir / "initdb"),
            f"--pgdata={data}",
            "--auth=scram-sha-256",
            f"--username={PG_ADMIN}",
            f"--pwfile={pwfile}",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]
        result = subprocess.run(
            initdb, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False
        )
        pwfile.unlink()
        if result.returncode != 0:
            raise ServiceError(f"initdb failed ({result.returncode}):\n{result.stdout}{result.stderr}")

        def start(port: int) -> Service:
            log = tempdir / "postgres.log"
            log.write_bytes(b"")
            give_to_user(log)
            settings = {
                "listen_addresses": "127.0.0.1",
                "unix_socket_directories": str(tempdir),
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "password_encryption": "scram-sha-256",
            }
            argv = [*as_user, str(bindir / "postgres"), "-D", str(data), "-p", str(port)]
            argv += [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
            process = _spawn(argv, log, tempdir)
            isready = [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-t", "1"]

            def ready() -> bool:
                return subprocess.call(isready, stdin=subprocess.DEVNULL, timeout=10) == 0

            try:
                _wait_until("PostgreSQL", ready, process, log, READY_TIMEOUT)
            except BaseException:
                _terminate(process)
                raise
            host = f"127.0.0.1:{port}"
            return Service(
                name="PostgreSQL",
                url=f"postgresql://{SMOKE_ROLE}:{quote(smoke_password, safe='')}@{host}/{SMOKE_ROLE}",
                admin_url=f"postgresql://{PG_ADMIN}:{quote(admin_password, safe='')}@{host}/postgres",
                pid=_postmaster_pid(data, process.pid),
                _process=process,
                _tempdir=tempdir,
                _stop_argv=[*as_user, str(bindir / "pg_ctl"), "stop", "-D", str(data), *PG_CTL_STOP],
            )

        service = _start_with_retries(start)
    except BaseException:
        shutil.rmtree(tempdir, ignore_errors=True)
        raise
    try:
        _create_smoke_database(bindir, service, admin_password, smoke_password)
    except BaseException:
        service.stop()
        raise
    return service


def _can_run(as_user: list[str], bindir: Path) -> bool:
    """True if the server's user (``runuser -u USER --``) may execute the postgres binary in *bindir*."""
    return subprocess.call([*as_user, "test", "-x", str(bindir / "postgres")], timeout=30) == 0


def _copy_pgserver(bindir: Path, dest: Path) -> Path:
    """Copy pgserver's PostgreSQL (``pginstall`` less headers, and its ``pgserver.libs``) into *dest*.

    The layout is kept, since the binaries find their libraries and share files relative to
    themselves.  Returns the copy's ``bin`` directory.
    """
    package = bindir.parent.parent
    copy = dest / "pgserver"
    shutil.copytree(package / "pginstall", copy / "pginstall", symlinks=True, ignore=shutil.ignore_patterns("include"))
    libs = package.parent / "pgserver.libs"
    if libs.is_dir():
        shutil.copytree(libs, dest / "pgserver.libs", symlinks=True)
    return copy / "pginstall" / "bin"


def _postgres_version(bindir: Path) -> str:
    """``PostgreSQL 16.2`` from ``postgres --version`` in *bindir* (the whole line if it differs)."""
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise ServiceError(f"{bindir / 'postgres'} does not run here: {exc}") from None
    match = re.fullmatch(r"postgres \(PostgreSQL\) (\S+)", out)
    return f"PostgreSQL {match.group(1)}" if match else out


def _postmaster_pid(data: Path, fallback: int) -> int:
    """The postmaster's PID from postmaster.pid (its first line), else *fallback*."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((data / "postmaster.pid").read_text().splitlines()[0])
    return fallback


def _create_smoke_database(bindir: Path, service: Service, admin_password: str, smoke_password: str) -> None:
    """Create the login role ``smoke`` and its database ``smoke`` over TCP as the admin."""
    port = service.url.rsplit(":", 1)[1].split("/", 1)[0]
    psql = [str(bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", port]
    psql += ["-U", PG_ADMIN, "-d", "postgres"]
    env = {**os.environ, "PGPASSWORD": admin_password, "PGCONNECT_TIMEOUT": "10"}
    # token_urlsafe yields only [A-Za-z0-9_-], so the password needs no SQL escaping.
    statements = [
        f"CREATE ROLE {SMOKE_ROLE} LOGIN PASSWORD '{smoke_password}'",
        f"CREATE DATABASE {SMOKE_ROLE} OWNER {SMOKE_ROLE}",
    ]
    for statement in statements:
        result = subprocess.run(
            [*psql, "-c", statement],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            shown = statement.replace(smoke_password, "***")
            raise ServiceError(f"psql failed on `{shown}`: {result.stderr.strip()}")


# -- Redis ------------------------------------------------------------------------------------


def _redis_pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(workdir: Path) -> Service:
    """Start a throwaway Redis (no persistence) on a free 127.0.0.1 port; files under *workdir*."""

    def argv(server: str, port: int, tempdir: Path) -> list[str]:
        return [
            *(server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--protected-mode", "no", "--daemonize", "no", "--dir", str(tempdir)),
        ]

    return _start_server("Redis", "redis-server", argv, _redis_pings, "redis://127.0.0.1:{port}/0", workdir)


# -- Prometheus Pushgateway -------------------------------------------------------------------


def _pushgateway_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:  # refused while starting; URLError and HTTPError are OSErrors
        return False


def start_pushgateway(workdir: Path) -> Service:
    """Start a throwaway Prometheus Pushgateway (no persistence) on a free 127.0.0.1 port; its log under *workdir*.

    The package's own service is never started (see :func:`_services_not_started_by_packages`):
    this one listens on loopback only and keeps what is pushed in memory, gone when it stops.
    """

    def argv(server: str, port: int, tempdir: Path) -> list[str]:
        # Debian's build persists to /var/lib/prometheus/pushgateway.data unless told otherwise:
        # an empty --persistence.file keeps the metrics in memory only, gone when it stops.
        return [server, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file=", "--log.level=warn"]

    return _start_server("Pushgateway", PUSHGATEWAY, argv, _pushgateway_ready, "http://127.0.0.1:{port}", workdir)


def _start_server(
    name: str,
    program: str,
    argv: Callable[[str, int, Path], list[str]],
    ready: Callable[[int], bool],
    url: str,
    workdir: Path,
) -> Service:
    """Start *program* (on PATH) as ``argv(path, port, tempdir)`` on a free port until ``ready(port)``.

    Its log and files go to a temporary directory under *workdir*, removed when it stops; *url*
    has ``{port}`` in it.  A port taken between choosing and binding it is retried on another.
    """
    server = shutil.which(program)
    if server is None:
        raise ServiceError(f"{program} is not on PATH; run ensure_packages()")
    tempdir = Path(tempfile.mkdtemp(prefix=f"deploysmoke-{name.lower()}-", dir=workdir))

    def start(port: int) -> Service:
        log = tempdir / f"{name.lower()}.log"
        log.write_bytes(b"")
        process = _spawn(argv(server, port, tempdir), log, tempdir)
        try:
            _wait_until(name, lambda: ready(port), process, log, READY_TIMEOUT)
        except BaseException:
            _terminate(process)
            raise
        return Service(name=name, url=url.format(port=port), pid=process.pid, _process=process, _tempdir=tempdir)

    try:
        return _start_with_retries(start)
    except BaseException:
        shutil.rmtree(tempdir, ignore_errors=True)
        raise


# -- all --------------------------------------------------------------------------------------


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def running_services(workdir: Path | None = None) -> Iterator[dict[str, str]]:
    """Yield the test servers' environment variables while they run; stop them all on exit.

    A server whose variable is already set in the environment is the user's own: it is passed on
    and none is started for it.  SIGTERM is turned into SystemExit meanwhile so the servers are
    stopped then too (as they are on KeyboardInterrupt).
    """
    base = Path(workdir if workdir is not None else tempfile.gettempdir())
    env: dict[str, str] = {}
    services: list[Service] = []
    previous: Callable[[int, FrameType | None], object] | int | None = None
    replaced = False
    with contextlib.suppress(ValueError):  # not the main thread: leave SIGTERM alone
        previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
        replaced = True
    try:
        if os.environ.get(DSN_VAR):
            print(f"devservices: using PostgreSQL from {DSN_VAR}", flush=True)
            env[DSN_VAR] = os.environ[DSN_VAR]
            if os.environ.get(ADMIN_DSN_VAR):
                env[ADMIN_DSN_VAR] = os.environ[ADMIN_DSN_VAR]
        else:
            started = time.monotonic()
            postgres = start_postgres(base)
            services.append(postgres)
            env[DSN_VAR] = postgres.url
            env[ADMIN_DSN_VAR] = postgres.admin_url or postgres.url
            print(
                f"devservices: PostgreSQL on {_host(postgres.url)} (pid {postgres.pid}),"
                f" ready in {time.monotonic() - started:.1f} s",
                flush=True,
            )
        for var, name, start in (
            (REDIS_URL_VAR, "Redis", start_redis),
            (PUSHGATEWAY_URL_VAR, "Pushgateway", start_pushgateway),
        ):
            if os.environ.get(var):
                print(f"devservices: using {name} from {var}", flush=True)
                env[var] = os.environ[var]
                continue
            started = time.monotonic()
            service = start(base)
            services.append(service)
            env[var] = service.url
            print(
                f"devservices: {name} on {_host(service.url)} (pid {service.pid}),"
                f" ready in {time.monotonic() - started:.1f} s",
                flush=True,
            )
        yield env
    finally:
        for service in reversed(services):
            service.stop()
        if services:
            names = [s.name for s in services]
            shown = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
            print(f"devservices: stopped {shown}", flush=True)
        if replaced:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _host(url: str) -> str:
    """host:port of *url*, without the credentials."""
    return url.split("@")[-1].split("//")[-1].split("/")[0]
