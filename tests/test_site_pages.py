"""The page content the site adapter asks the engine for: plain functions of data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dlexec.present.site_pages import (
    MORE,
    back_links_html,
    blob_url,
    excerpt_only,
    stand_in_markdown,
    with_notebook_buttons,
)


def test_a_post_list_gets_the_excerpt_and_a_stand_in_for_the_rest():
    assert (
        excerpt_only(f"intro\n{MORE}\n```python\nlong()\n```\n") == f"intro\n{MORE}\n\n&hellip;\n"
    )
    assert excerpt_only("no marker\n") == "no marker\n"


def test_notebook_buttons_go_after_the_marker_only():
    assert with_notebook_buttons(f"a\n{MORE}\nb\n", "[B](x)") == f"a\n{MORE}\n\n[B](x)\n\nb\n"
    assert with_notebook_buttons("a\n", "[B](x)") == "a\n"


def test_a_stand_in_is_a_valid_post_that_shows_the_problem_escaped():
    text = stand_in_markdown("p", "posts/p.md", "bad <script>", date(2026, 12, 7))
    assert text.startswith("---\ndate: 2026-12-07\nslug: p\n---\n")
    assert "posts/p.md cannot be built" in text and "bad &lt;script&gt;" in text
    assert "<script>" not in text


def test_back_links_are_escaped_and_absent_without_posts():
    html = back_links_html([("A <b> post", "../2026/01/01/a/?x=1&y=2")])
    assert html == (
        '<p class="dlexec-back">Shown in <a href="../2026/01/01/a/?x=1&amp;y=2">'
        "A &lt;b&gt; post</a>.</p>\n"
    )
    assert back_links_html([]) == ""


def test_a_source_link_needs_a_repository():
    assert blob_url("https://github.com/o/r/", "main", "posts/p.md") == (
        "https://github.com/o/r/blob/main/posts/p.md"
    )
    assert blob_url(None, "main", str(Path("posts/p.md"))) is None
