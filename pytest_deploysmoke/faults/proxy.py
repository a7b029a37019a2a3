"""The rehearsal proxy's command line: mitmdump in reverse mode with the fault addon, on loopback by default.

``python -m pytest_deploysmoke.faults --upstream URL --faults faults.toml`` checks the rules file,
then runs mitmdump in its place (same process, same PID) so whoever started it stops it by that PID.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pytest_deploysmoke.faults import rules

#: The addon mitmdump loads (``-s``).
ADDON = Path(__file__).with_name("addon.py")
#: Where to find mitmdump when --mitmdump is not given (before PATH).
MITMDUMP_VAR = "DEPLOYSMOKE_MITMDUMP"


class ProxyError(Exception):
    """The proxy cannot start: one line saying what to fix."""


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """What the proxy stands in front of, where it listens, and which faults it injects."""

    upstream: str
    faults: Path
    host: str = "127.0.0.1"
    port: int = 8080
    log: Path | None = None
    confdir: Path | None = None  # mitmproxy's own folder (its CA); default ~/.mitmproxy
    extra: tuple[str, ...] = ()  # more mitmdump arguments, as given after --


def command(settings: ProxySettings, mitmdump: str) -> list[str]:
    """The mitmdump command line for *settings*."""
    argv = [
        mitmdump,
        "--mode",
        f"reverse:{settings.upstream}",
        "--listen-host",
        settings.host,
        "--listen-port",
        str(settings.port),
        "--scripts",
        str(ADDON),
        "--set",
        f"deploysmoke_faults={settings.faults}",
        "--set",
        "flow_detail=0",  # the fired-fault log says what happened; no line per call
    ]
    if settings.log is not None:
        argv += ["--set", f"deploysmoke_faults_log={settings.log}"]
    if settings.confdir is not None:
        argv += ["--set", f"confdir={settings.confdir}"]
    return [*argv, *settings.extra]


def find_mitmdump(explicit: str | None = None) -> str:
    """The mitmdump to run: *explicit*, else $DEPLOYSMOKE_MITMDUMP, else the one on PATH."""
    chosen = explicit or os.environ.get(MITMDUMP_VAR)
    if chosen:
        if not (Path(chosen).is_file() and os.access(chosen, os.X_OK)):
            raise ProxyError(f"mitmdump {chosen!r} is not an executable file; install mitmproxy or fix the path")
        return chosen
    found = shutil.which("mitmdump")
    if found is None:
        raise ProxyError(
            "mitmdump is not on PATH: install mitmproxy in an environment of its own "
            f"(pipx install mitmproxy), or give its path with --mitmdump or ${MITMDUMP_VAR}"
        )
    return found


def parse_args(argv: Sequence[str]) -> tuple[ProxySettings, str | None, bool]:
    """The settings, the --mitmdump path and --print, from the command line; ProxyError when unusable."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_deploysmoke.faults",
        description="Put mitmdump, with deploysmoke's fault addon, in front of a service to rehearse a bad deploy.",
        epilog="Arguments after -- go to mitmdump as they are. See docs/rehearse.md.",
    )
    parser.add_argument(
        "--upstream", required=True, help="the service's base URL, e.g. https://api.staging.example.com"
    )
    parser.add_argument("--faults", required=True, type=Path, help="the rules file ([[fault]] tables)")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT to listen on (default 127.0.0.1:8080)")
    parser.add_argument("--log", type=Path, help="append one JSON line per fault fired to this file")
    parser.add_argument("--confdir", type=Path, help="mitmproxy's own folder (default ~/.mitmproxy)")
    parser.add_argument("--mitmdump", help=f"the mitmdump to run (default ${MITMDUMP_VAR}, then PATH)")
    parser.add_argument("--print", action="store_true", help="print the mitmdump command instead of running it")
    given = list(argv)
    cut = given.index("--") if "--" in given else len(given)
    args = parser.parse_args(given[:cut])
    extra = given[cut + 1 :]
    upstream = urlsplit(args.upstream)
    if upstream.scheme not in ("http", "https") or not upstream.hostname:
        raise ProxyError(f"--upstream {args.upstream!r} is not an http(s) URL; give the service's base URL")
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ProxyError(f"--listen {args.listen!r} is not HOST:PORT; e.g. 127.0.0.1:8080")
    rules.load_rules(args.faults)  # a bad rules file is a usage error now, not a silent proxy later
    settings = ProxySettings(
        upstream=args.upstream.rstrip("/"),
        faults=args.faults.resolve(),
        host=host.strip("[]"),
        port=int(port),
        log=args.log.resolve() if args.log else None,
        confdir=args.confdir.resolve() if args.confdir else None,
        extra=tuple(extra),
    )
    return settings, args.mitmdump, args.print


def main(argv: Sequence[str] | None = None) -> int:
    """Check the arguments and the rules, then become mitmdump (or print its command)."""
    try:
        settings, explicit, only_print = parse_args(sys.argv[1:] if argv is None else argv)
        argv_ = command(settings, find_mitmdump(explicit) if not only_print else (explicit or "mitmdump"))
    except (ProxyError, rules.RulesError) as exc:
        print(f"deploysmoke faults: {exc}", file=sys.stderr)
        return 2
    if only_print:
        print(shlex.join(argv_))
        return 0
    sys.stderr.flush()  # the addon says which faults it loaded, in mitmdump's log
    os.execv(argv_[0], argv_)  # the proxy keeps this PID: stop it by the PID you started
