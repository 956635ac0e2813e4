"""Screenshots of the demo page for the README, in Debian's headless Chromium.

    .venv/bin/python scripts/demo_screenshots.py        # -> docs/demo-desktop.png, docs/demo-phone.png
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.server import running_server  # noqa: E402


def main() -> None:
    out = REPO_ROOT / "docs"
    out.mkdir(exist_ok=True)
    with running_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(url + "/#model=cgan-mnist")
        page.wait_for_selector("#samples .tile img")
        page.click("#all-digits")
        page.wait_for_function("() => document.querySelectorAll('#samples .tile').length === 40")
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / "demo-desktop.png"))
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.goto(url + "/#model=infogan-mnist")
        phone.wait_for_selector("#samples .tile img")
        phone.locator("#infogan-section").scroll_into_view_if_needed()
        phone.wait_for_timeout(300)
        phone.screenshot(path=str(out / "demo-phone.png"))
        browser.close()
    print(f"wrote {out / 'demo-desktop.png'} and {out / 'demo-phone.png'}")


if __name__ == "__main__":
    main()
