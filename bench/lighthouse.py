"""Lighthouse (12, pinned in bench/lighthouse/package.json) on the demo page, served by a fresh server on the
shipped checkpoints, in Debian's Chromium: the four category scores and every audit that did not pass.

    (cd bench/lighthouse && npm ci)                 # once: Lighthouse itself, ~190 MB, never needed by the service
    python -m bench.lighthouse [--json runs/lighthouse.json] [--preset desktop]

Lighthouse's default is a phone on a throttled network and CPU (its "mobile" preset); ``--preset desktop`` is the
unthrottled desktop run. Scores move by a few points between runs on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.server import running_server  # noqa: E402

HERE = Path(__file__).resolve().parent / "lighthouse"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def lighthouse(url: str, preset: str | None) -> dict:
    cli = HERE / "node_modules" / "lighthouse" / "cli" / "index.js"
    if not cli.exists():
        raise SystemExit(f"Lighthouse is not installed: (cd {HERE} && npm ci)")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        argv = ["node", str(cli), url, "--output=json", f"--output-path={report}", "--quiet",
                f"--only-categories={','.join(CATEGORIES)}",
                "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-background-networking"]
        if preset:
            argv.append(f"--preset={preset}")
        subprocess.run(argv, check=True, timeout=300, env=os.environ | {"CHROME_PATH": CHROMIUM})
        return json.loads(report.read_text())


def summary(report: dict) -> dict:
    scores = {c: round(100 * report["categories"][c]["score"]) for c in CATEGORIES}
    failed = {}
    for category in CATEGORIES:
        for ref in report["categories"][category]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if ref.get("weight", 0) > 0 and audit.get("score") is not None and audit["score"] < 0.9:
                failed[ref["id"]] = {"category": category, "score": audit["score"],
                                     "value": audit.get("displayValue", "")}
    metrics = {k: report["audits"][k].get("displayValue", "") for k in
               ("first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift",
                "speed-index", "total-byte-weight") if k in report["audits"]}
    return {"lighthouse": report["lighthouseVersion"], "scores": scores, "metrics": metrics, "below_0.9": failed}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the summary here as well")
    parser.add_argument("--preset", choices=["desktop"], help="Lighthouse's desktop preset (default: its mobile one)")
    args = parser.parse_args(argv)
    with running_server() as url:
        result = summary(lighthouse(url + "/", args.preset))
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
