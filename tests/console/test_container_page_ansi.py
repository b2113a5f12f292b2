"""static/js/container-ansi.js, run in Node: log lines become HTML with colours, and never with markup of their own."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "static" / "js" / "container-ansi.js"
NODE = shutil.which("node")

TAG = re.compile(r'<span( class="[a-z0-9 -]+")?( style="[a-z:;(),0-9-]+")?>|</span>|<mark>|</mark>')

pytestmark = pytest.mark.skipif(NODE is None, reason="needs node")


def to_html(*cases: tuple[str, str | None]) -> list[str]:
    """BerthAnsi.toHtml(text, highlight) for each (text, highlight pattern or None)."""
    program = f"""
        global.window = {{}};
        require({json.dumps(str(SCRIPT))});
        const cases = {json.dumps(cases)};
        console.log(JSON.stringify(cases.map(([t, q]) => window.BerthAnsi.toHtml(t, q ? new RegExp(q, "gi") : null))));
    """
    out = subprocess.run([NODE, "-e", program], capture_output=True, text=True, check=True, timeout=30)  # type: ignore[list-item]
    return json.loads(out.stdout)


def test_text_is_escaped_and_colours_become_classes() -> None:
    plain, red, attack = to_html(("a <b>&\"'", None), ("\x1b[31mred\x1b[0m rest", None),
                                 ("\x1b[1;32m<script>alert(1)</script>\x1b[0m", None))
    assert plain == "a &lt;b&gt;&amp;&quot;&#39;"
    assert red == '<span class="ansi-fg-1">red</span> rest'
    assert attack == '<span class="ansi-fg-2 ansi-bold">&lt;script&gt;alert(1)&lt;/script&gt;</span>'


def test_256_and_true_colours_are_numbers_only() -> None:
    [html] = to_html(("\x1b[38;5;202mo\x1b[48;2;10;20;999mb\x1b[38;2;1;2;\" onclick=x m", None))
    assert 'style="color:rgb(255,95,0)"' in html and "background-color:rgb(10,20,255)" in html
    tags = re.findall(r"<[^>]*>", html)
    assert all(TAG.fullmatch(t) for t in tags), tags  # the only markup is ours


def test_other_sequences_are_dropped_and_search_is_highlighted_safely() -> None:
    title, progress, found = to_html(("\x1b]0;title\x07shown \x1b[2Kcleared", None), ("10%\r100%", None),
                                     ("\x1b[33mthe <needle>\x1b[0m", "needle"))
    assert title == "shown cleared"
    assert progress == "100%"
    assert found == '<span class="ansi-fg-3">the &lt;<mark>needle</mark>&gt;</span>'
