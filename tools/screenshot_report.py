"""Screenshot the HTML report's Charts section for the docs (``docs/img/report-charts.png``).

Run it from the checkout with::

    .venv/bin/python tools/screenshot_report.py [--report PATH] [--out PATH] [-- DEMO ARGS]

Without ``--report`` it first runs the kifu demo (``python3 tasks.py demo``: throwaway PostgreSQL
and Redis, the kifu stand-in, every phase of its checklist), which writes ``reports/kifu.html``;
arguments after ``--`` go to that run (``-- --deploy-watch=1m --deploy-watch-every=10s`` adds the
watch window).  It then opens the report in Debian's Chromium, headless, through Playwright,
with JavaScript off and every request outside the report refused, as the report tests do, and
saves the section as a PNG.

Exit status: 0 when the screenshot was saved; 1 when the demo failed or the report has no
Charts section; 2 when Chromium is missing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SECTION = "#deploysmoke-charts"


def run_demo(args: list[str]) -> Path:
    """Run the kifu demo (its reports go to reports/); return its HTML report."""
    code = subprocess.call([sys.executable, str(ROOT / "tasks.py"), "demo", *args], cwd=ROOT)
    report = ROOT / "reports" / "kifu.html"
    if not report.exists():
        raise SystemExit(f"screenshot_report: the demo wrote no report (exit {code})")
    if code != 0:
        print(f"screenshot_report: the demo exited {code}; its report is shown as it is", file=sys.stderr)
    return report


def screenshot(report: Path, out: Path, width: int) -> tuple[int, int]:
    """Save *report*'s Charts section as *out*; return the section's size in CSS pixels."""
    from playwright.sync_api import Route, sync_playwright

    def offline(route: Route) -> None:  # the report is one file (or one with its assets): nothing else
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = browser.new_context(java_script_enabled=False, viewport={"width": width, "height": 900})
            context.route("**/*", offline)
            page = context.new_page()
            page.goto(report.resolve().as_uri())
            section = page.locator(SECTION)
            if section.count() == 0:
                raise SystemExit(f"screenshot_report: {report} has no Charts section ({SECTION})")
            out.parent.mkdir(parents=True, exist_ok=True)
            section.screenshot(path=str(out))
            box = section.bounding_box() or {"width": 0, "height": 0}
        finally:
            browser.close()
    return int(box["width"]), int(box["height"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    demo_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n", 1)[0])
    parser.add_argument("--report", type=Path, help="an HTML report to photograph (default: run the kifu demo)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "report-charts.png")
    parser.add_argument("--width", type=int, default=1280, help="the browser window's width (default 1280)")
    args = parser.parse_args(own)
    if not os.access(CHROMIUM, os.X_OK):
        print(f"screenshot_report: {CHROMIUM} is missing (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    report = args.report or run_demo(demo_args)
    width, height = screenshot(report, args.out, args.width)
    print(f"screenshot_report: {args.out} ({width} x {height} px) from {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
