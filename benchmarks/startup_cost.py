"""Measure what pytest-deploysmoke adds to an ordinary test run with no deploy target selected.

Run it with::

    .venv/bin/python benchmarks/startup_cost.py [--runs N] [--hyperfine]

It builds a throwaway project of plain unit tests in a temporary directory and times
``python -m pytest --co -q -p no:cacheprovider`` there with the plugin active and with
``-p no:deploysmoke``, interleaving the two variants run by run so machine noise hits both
equally. It also lists the import cost of ``pytest_deploysmoke.plugin`` per module
(``-X importtime``) and checks that importing it pulls in none of the heavy client libraries;
the script exits 1 if one does, so it doubles as a check.

Exit status: 0 when all is well, 1 when a heavy module is imported by ``pytest_deploysmoke.plugin``,
2 when the benchmark itself could not run (pytest failed, plugin not active, ...).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PLUGIN_NAME = "deploysmoke"
PLUGIN_MODULE = "pytest_deploysmoke.plugin"
PACKAGE = "pytest_deploysmoke"
HEAVY_MODULES = ("httpx", "psycopg", "redis", "websockets", "jsonschema", "starlette")
PYTEST_ARGS = ("-m", "pytest", "--co", "-q", "-p", "no:cacheprovider")
DISABLE_ARGS = ("-p", f"no:{PLUGIN_NAME}")
PYTEST_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
# Environment that would change what the runs do: extra options or plugins, or a deploy target.
# PYTHONDONTWRITEBYTECODE too: with it, every run recompiles (and pytest re-rewrites) every plugin
# module, which no user machine does; the timings should show what a user's run costs.
SCRUBBED_ENV_PREFIXES = (
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
    "DEPLOYSMOKE_",
    "PYTHONDONTWRITEBYTECODE",
)


class BenchmarkError(Exception):
    """The benchmark could not be run meaningfully."""


@dataclass(frozen=True)
class ImportEntry:
    """One line of ``-X importtime`` output."""

    module: str
    self_us: int
    cumulative_us: int
    depth: int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per variant (default: 30)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up runs per variant (default: 3)")
    parser.add_argument("--modules", type=int, default=10, help="test modules to generate (default: 10)")
    parser.add_argument("--tests", type=int, default=20, help="test functions per module (default: 20)")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter to benchmark (default: the one running this script)",
    )
    parser.add_argument(
        "--hyperfine",
        action="store_true",
        help="also run hyperfine (if it is on PATH) on both commands and print its output",
    )
    parser.add_argument("--top", type=int, default=15, help="importtime entries to list (default: 15)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.modules < 1 or args.tests < 1:
        parser.error("--runs, --modules and --tests must be >= 1, --warmup >= 0")
    return args


def clean_env() -> dict[str, str]:
    """The current environment without anything that would add options, plugins or a target."""
    return {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_ENV_PREFIXES)}


def make_project(root: Path, modules: int, tests: int) -> int:
    """Write a project of trivial unit tests under ``root``; return the number of tests."""
    (root / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    for m in range(modules):
        body = [f'"""Plain unit tests, module {m}."""', ""]
        for t in range(tests):
            body += ["", f"def test_case_{t:03d}() -> None:", f"    assert {t} + {m} == {t + m}", ""]
        (root / f"test_mod_{m:02d}.py").write_text("\n".join(body), encoding="utf-8")
    return modules * tests


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def check_variants(
    variants: dict[str, list[str]], cwd: Path, env: dict[str, str], expected: int
) -> dict[str, list[str]]:
    """Fail unless every variant collects ``expected`` tests and the plugin is on only where meant.

    The check run goes under ``-X importtime``; return the heavy modules each variant imported.
    """
    heavy: dict[str, list[str]] = {}
    for label, cmd in variants.items():
        proc = run([cmd[0], "-X", "importtime", *cmd[1:]], cwd, env)
        if proc.returncode != 0 or f"{expected} tests collected" not in proc.stdout:
            raise BenchmarkError(
                f"{label}: `{shlex.join(cmd)}` exited {proc.returncode}, "
                f"expected {expected} tests collected\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
            )
        heavy[label] = heavy_roots(parse_importtime(proc.stderr))
        disabled = DISABLE_ARGS[-1] in cmd
        helptext = run([*cmd, "--help"], cwd, env).stdout
        if ("--deploy-target" in helptext) == disabled:
            state = "still active" if disabled else "not active"
            raise BenchmarkError(f"{label}: the {PLUGIN_NAME} plugin is {state} (check `{shlex.join(cmd)}`)")
    return heavy


def time_interleaved(
    variants: dict[str, list[str]], cwd: Path, env: dict[str, str], runs: int, warmup: int
) -> dict[str, list[float]]:
    """Run the variants A B A B ...; return the timed (post-warm-up) wall times in ms per variant."""
    samples: dict[str, list[float]] = {label: [] for label in variants}
    for i in range(warmup + runs):
        for label, cmd in variants.items():
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            elapsed_ms = (time.perf_counter() - start) * 1000.0
            if proc.returncode != 0:
                raise BenchmarkError(f"{label}: run {i} exited {proc.returncode}")
            if i >= warmup:
                samples[label].append(elapsed_ms)
    return samples


def run_hyperfine(variants: dict[str, list[str]], cwd: Path, env: dict[str, str], runs: int, warmup: int) -> None:
    exe = shutil.which("hyperfine")
    if exe is None:
        print("hyperfine: not on PATH, skipped")
        return
    cmd = [exe, "--warmup", str(warmup), "--runs", str(runs)]
    for label, variant in variants.items():
        cmd += [f"--command-name={label}", shlex.join(variant)]
    print(f"$ {shlex.join(cmd)}", flush=True)
    proc = subprocess.run(cmd, cwd=cwd, env=env, check=False)
    if proc.returncode != 0:
        print(f"hyperfine exited {proc.returncode}")


def parse_importtime(stderr: str) -> list[ImportEntry]:
    entries: list[ImportEntry] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line, or something else
        name = fields[2]
        stripped = name.lstrip(" ")
        # One separator space, then two spaces per nesting level.
        depth = max(len(name) - len(stripped) - 1, 0) // 2
        entries.append(ImportEntry(stripped.strip(), int(fields[0]), int(fields[1]), depth))
    return entries


def import_subtree(entries: list[ImportEntry], module: str) -> list[ImportEntry]:
    """``module``'s entry and the entries nested under it (importtime lists children first)."""
    for idx, entry in enumerate(entries):
        if entry.module == module:
            start = idx
            while start > 0 and entries[start - 1].depth > entry.depth:
                start -= 1
            return entries[start : idx + 1]
    return []


def is_heavy(module: str) -> bool:
    return module.split(".", 1)[0] in HEAVY_MODULES


def heavy_roots(entries: list[ImportEntry]) -> list[str]:
    """The heavy top-level packages among ``entries``, sorted."""
    return sorted({e.module.split(".", 1)[0] for e in entries if is_heavy(e.module)})


def check_imports(python: str, env: dict[str, str], top: int) -> bool:
    """Print the import cost of the plugin module; return True when no heavy module is imported."""
    cmd = [python, "-X", "importtime", "-c", f"import {PLUGIN_MODULE}"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchmarkError(f"`{shlex.join(cmd)}` exited {proc.returncode}\n{proc.stderr[-3000:]}")
    entries = parse_importtime(proc.stderr)
    subtree = import_subtree(entries, PLUGIN_MODULE)
    if not subtree:
        raise BenchmarkError(f"{PLUGIN_MODULE} not found in the -X importtime output")

    print(f"$ {shlex.join(cmd)}")
    print(f"  {PLUGIN_MODULE} cumulative: {subtree[-1].cumulative_us / 1000:.1f} ms")
    own = sorted(
        (e for e in subtree if e.module == PACKAGE or e.module.startswith(PACKAGE + ".")),
        key=lambda e: e.cumulative_us,
        reverse=True,
    )
    print(f"  top {min(top, len(own))} {PACKAGE}.* modules by cumulative import time:")
    print(f"    {'cumulative [us]':>15}  {'self [us]':>9}  module")
    for e in own[:top]:
        print(f"    {e.cumulative_us:>15}  {e.self_us:>9}  {e.module}")

    heavy = heavy_roots(subtree)
    elsewhere = sorted(set(heavy_roots(entries)) - set(heavy))
    print(f"  heavy modules checked: {', '.join(HEAVY_MODULES)}")
    if heavy:
        print(f"  FAIL: importing {PLUGIN_MODULE} imports {', '.join(heavy)}")
    else:
        print(f"  OK: none imported by {PLUGIN_MODULE}")
    if elsewhere:
        # Already imported at interpreter start-up (e.g. by a .pth file), so the check above is blind to them.
        print(f"  note: imported outside {PLUGIN_MODULE} at start-up: {', '.join(elsewhere)}")
    return not heavy


def summarize(samples: dict[str, list[float]], labels: tuple[str, str]) -> None:
    on, off = labels
    med_on, med_off = statistics.median(samples[on]), statistics.median(samples[off])
    width = max(len(label) for label in labels) + 2
    for label in labels:
        s = samples[label]
        print(f"{label + ':':<{width}}median {statistics.median(s):.1f} ms  (min {min(s):.1f})")
    print(f"{'added:':<{width}}{med_on - med_off:+.1f} ms (ratio {med_on / med_off:.3f})")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = clean_env()
    on_label, off_label = "plugin active", f"-p no:{PLUGIN_NAME}"
    base = [args.python, *PYTEST_ARGS]
    variants = {on_label: base, off_label: [*base, *DISABLE_ARGS]}

    try:
        imports_ok = check_imports(args.python, env, args.top)
        print()
        with tempfile.TemporaryDirectory(prefix="deploysmoke-startup-") as tmp:
            project = Path(tmp)
            expected = make_project(project, args.modules, args.tests)
            heavy_by_variant = check_variants(variants, project, env, expected)
            print(
                f"project: {args.modules} modules x {args.tests} tests = {expected} tests; "
                f"{args.runs} runs per variant after {args.warmup} warm-up, interleaved"
            )
            print(f"python:  {args.python}")
            for label, cmd in variants.items():
                print(f"  {label}: {shlex.join(cmd)}")
            # Informational: the whole --co run, so it also sees lazy imports in hooks and fixtures modules.
            for label, heavy in heavy_by_variant.items():
                print(f"  heavy modules imported by the whole run ({label}): {', '.join(heavy) or 'none'}")
            print(flush=True)
            samples = time_interleaved(variants, project, env, args.runs, args.warmup)
            summarize(samples, (on_label, off_label))
            if args.hyperfine:
                print()
                run_hyperfine(variants, project, env, args.runs, args.warmup)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if imports_ok else 1


if __name__ == "__main__":
    sys.exit(main())
