"""The demo page's markup, read without a browser: checks that hold before Chromium ever runs it."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.unit

STATIC = REPO_ROOT / "app" / "static"


class Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"])
        if tag == "script":
            self.scripts.append(found)


def page() -> Markup:
    markup = Markup()
    markup.feed((STATIC / "index.html").read_text())
    return markup


def test_the_script_runs_after_the_whole_page_is_parsed():
    """A parser-blocking script placed before the key dialog once met a 401 before the dialog existed:
    the page showed an error instead of asking for the key (seen in CI)."""
    scripts = page().scripts
    assert scripts and all(s.get("src") for s in scripts)
    assert all("defer" in s or s.get("type") == "module" for s in scripts), scripts


def test_every_element_the_script_looks_up_is_in_the_page():
    script = (STATIC / "app.js").read_text()
    wanted = set(re.findall(r"""\$\(\s*["']([\w-]+)["']\s*\)""", script))
    assert len(wanted) > 20
    assert wanted <= page().ids, sorted(wanted - page().ids)
