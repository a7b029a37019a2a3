"""How often does ``--deploy-baseline`` flag a regression that is not there, and how often does it find one that is?

Run it with::

    .venv/bin/python benchmarks/false_alarms.py [--runs 20] [--samples 60] [--slower 1.4]

It serves the stand-in app (``tests/apps/standin.py``) under uvicorn as one separate process on
127.0.0.1 and runs a throwaway smoke suite against it with real ``pytest`` subprocesses: two
``latency`` checks of ``--samples`` requests each, ``GET /slow?s=0.02`` (20 ms of server time,
an endpoint doing real work) and ``GET /health`` (about 1 ms, where loopback and scheduler noise
are the largest share).  One run writes the baseline (``--deploy-json``); then

- ``--runs`` runs of the same deploy, each judged against that baseline: every regression they
  report is a false alarm;
- ``--runs`` runs of a deploy whose ``/slow`` takes ``--slower`` times as long (28 ms for 1.4),
  under every budget: each run that does not report ``GET /slow`` as a ``latency_regression``
  is a miss.

It prints, per endpoint, the verdicts and the medians' shifts, then the false-alarm rate and
the detection rate with their counts.  Each run is an ordinary run of the plugin, decided with
the defaults of ``[targets.NAME.compare]`` (tolerance 25 %, confidence 0.98, 50 samples).

Exit status: 0 when the benchmark ran (whatever the figures), 2 when it could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from load_engines import start_server, stop

SUITE = """
import os

def test_slow_endpoint(latency):
    latency(f"/slow?s={{os.environ['BENCH_SLOW_S']}}", samples={samples})

def test_health(latency):
    latency("/health", samples={samples})
"""
SERVER_TIME_S = 0.02


def run_suite(folder: Path, url: str, slow_s: float, out: str, baseline: str | None) -> dict[str, Any]:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--deploy-target=bench"]
    argv += [f"--deploy-base-url={url}", f"--deploy-json={out}"]
    if baseline:
        argv.append(f"--deploy-baseline={baseline}")
    env = {**os.environ, "BENCH_SLOW_S": f"{slow_s:g}"}
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False)
    path = folder / out
    if not path.exists():
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        raise SystemExit(2)
    return json.loads(path.read_text(encoding="utf-8"))


def rows(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    comparison = document.get("comparison") or {}
    return {row["endpoint"]: row for row in comparison.get("endpoints", [])}


def series(folder: Path, url: str, runs: int, slow_s: float, label: str) -> list[dict[str, dict[str, Any]]]:
    print(f"{label}: {runs} runs with GET /slow at {slow_s * 1000:.0f} ms of server time", flush=True)
    found = []
    for index in range(runs):
        document = run_suite(folder, url, slow_s, f"{label}-{index}.json", "baseline.json")
        seen = rows(document)
        found.append(seen)
        shown = ", ".join(
            f"{name} {row['verdict']} ({row['shift_pct']:+.1f}%, p={row['p_value']:.2g})"
            for name, row in seen.items()
            if row["shift_pct"] is not None and row["p_value"] is not None
        )
        print(f"  run {index + 1:2}: {document['verdict']['decision']}: {shown}", flush=True)
    return found


def summarise(found: list[dict[str, dict[str, Any]]], label: str) -> None:
    for endpoint in ("GET /slow", "GET /health"):
        verdicts = Counter(run[endpoint]["verdict"] for run in found if endpoint in run)
        shifts = [run[endpoint]["shift_pct"] for run in found if run.get(endpoint, {}).get("shift_pct") is not None]
        spread = (
            f"median shift {statistics.median(shifts):+.1f}%, range {min(shifts):+.1f}% to {max(shifts):+.1f}%"
            if shifts
            else "no shift"
        )
        print(f"  {label} {endpoint}: {dict(verdicts)}; {spread}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--slower", type=float, default=1.4)
    args = parser.parse_args()
    process, url = start_server()
    try:
        with tempfile.TemporaryDirectory(prefix="false-alarms-") as tmp:
            folder = Path(tmp)
            (folder / "deploysmoke.toml").write_text(f'[targets.bench]\nbase_url = "{url}"\n', encoding="utf-8")
            (folder / "test_bench.py").write_text(SUITE.format(samples=args.samples), encoding="utf-8")
            base = run_suite(folder, url, SERVER_TIME_S, "baseline.json", None)
            print(f"baseline: {base['verdict']['decision']}, {len(base['endpoints'])} endpoints", flush=True)
            same = series(folder, url, args.runs, SERVER_TIME_S, "same")
            slower = series(folder, url, args.runs, SERVER_TIME_S * args.slower, "slower")
    finally:
        stop(process)
    print("\nsummary")
    summarise(same, "same deploy")
    summarise(slower, f"{args.slower:g}x slower /slow")
    alarms = sum(1 for run in same if any(row["verdict"] == "regression" for row in run.values()))
    hits = sum(1 for run in slower if run.get("GET /slow", {}).get("verdict") == "regression")
    wrong = sum(1 for run in slower if run.get("GET /health", {}).get("verdict") == "regression")
    print(f"false alarms: {alarms} of {len(same)} runs of the same deploy ({alarms / len(same):.0%})")
    print(f"detected: {hits} of {len(slower)} runs of the {args.slower:g}x slower deploy ({hits / len(slower):.0%})")
    print(f"false alarms on the unchanged GET /health in those runs: {wrong} of {len(slower)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
