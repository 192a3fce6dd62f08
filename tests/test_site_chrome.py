"""The site's chrome, checked in the built HTML: edit links, feeds, math, the lightbox's assets,
accessibility fixes, and no resource from another origin. What only a browser shows (KaTeX's
fonts load, a figure opens in the lightbox) is for tests/test_browser.py."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import material
import pytest
from bs4 import BeautifulSoup
from conftest import REPO
from PIL import Image

MATERIAL = Path(material.__file__).parent / "templates"
EDIT = "https://github.com/example/deep-learning-executed/edit/main/"
# Each override is Material's partial with one change: (what Material has, what we have).
OVERRIDES = {
    "partials/source.html": (' data-md-component="source">', ">"),
    "partials/search.html": (
        'role="dialog">',
        'role="dialog" aria-label="{{ lang.t(\'search\') }}">',
    ),
    "partials/social.html": ('href="{{ social.link }}"', 'href="{{ social.link | url }}"'),
}
EXTERNAL = r"(?:https?:)?//"
LOADS = re.compile(rf'<(?:script|img|iframe|source)\b[^>]*\bsrc="{EXTERNAL}')
LINKS = re.compile(rf'<link\b[^>]*\bhref="{EXTERNAL}[^>]*>')
ADDRESSES = ('rel="canonical"', 'rel="alternate"')  # the page's own addresses, never fetched


def soup(page: Path) -> BeautifulSoup:
    return BeautifulSoup(page.read_text(), "html.parser")


def test_edit_links_point_at_the_real_sources(real_site: Path):
    pages = {page: soup(page).select('a[rel="edit"]') for page in real_site.rglob("*.html")}
    linked = {
        page.relative_to(real_site).as_posix(): links[0]["href"]
        for page, links in pages.items()
        if links
    }
    assert linked["tags/index.html"] == EDIT + "docs/tags.md"
    posts = [href for page, href in linked.items() if page.startswith("20")]
    assert sorted(posts) == sorted(
        EDIT + f"posts/{post.name}" for post in (REPO / "posts").glob("*.md")
    )
    assert not [page for page in linked if page.startswith("runs/")], (
        "run pages have no source to edit"
    )


@pytest.mark.parametrize("feed", ["feed_rss_created.xml", "feed_rss_updated.xml"])
def test_feed_has_a_channel_image(real_site: Path, feed: str):
    channel = ET.parse(real_site / feed).getroot().find("channel")
    image = channel.find("image")
    assert image.findtext("title") == channel.findtext("title")
    assert image.findtext("link") == channel.findtext("link")
    url = image.findtext("url")
    assert url.startswith(channel.findtext("link"))
    assert (real_site / url.removeprefix(channel.findtext("link"))).is_file()


def test_logo_is_a_small_square_png():
    logo = REPO / "docs" / "assets" / "logo.png"
    with Image.open(logo) as image:
        assert image.format == "PNG" and image.width == image.height <= 144  # RSS: width <= 144
    assert logo.stat().st_size <= 10_000


def loads_from_elsewhere(html: str) -> bool:
    links = [link for link in LINKS.findall(html) if not any(a in link for a in ADDRESSES)]
    return bool(LOADS.search(html) or links)


def test_no_resource_from_another_origin(real_site: Path):
    """Links may leave the site; nothing a page loads may (no CDN, fonts, or API calls)."""
    assert not [p for p in real_site.rglob("*.html") if loads_from_elsewhere(p.read_text())]
    imports = re.compile(rf"url\([\"']?{EXTERNAL}|@import")
    assert not [p for p in real_site.rglob("*.css") if imports.search(p.read_text())]
    post = soup(next(real_site.glob("20*/*/*/*/index.html")))
    assert not post.select('[data-md-component="source"]'), "Material would ask api.github.com"


def test_katex_fonts_are_published(real_site: Path):
    folder = real_site / "assets" / "katex"
    fonts = re.findall(r"url\(([^)]+)\)", (folder / "katex.min.css").read_text())
    assert fonts and all(font.endswith(".woff2") and (folder / font).is_file() for font in fonts)


def test_math_is_rendered_at_build_time_and_only_math_pages_link_katex(real_site: Path):
    page = next(real_site.glob("20*/*/*/deep-learning-key-concepts-in-practice/index.html"))
    html = soup(page)
    formula = html.select_one("div.arithmatex .katex-display")
    assert formula is not None and formula.select_one("math")  # HTML and MathML
    assert "\\[" not in html.select_one("div.arithmatex").get_text()  # no source left over
    assert html.select_one('link[href$="assets/katex/katex.min.css"]')
    assert not html.select('script[src*="katex"]')  # readers run no script for math
    assert not (real_site / "assets" / "katex" / "katex.min.js").exists()  # build-time only
    other = next(real_site.glob("20*/*/*/deep-learning-cnns-rnns-and-autoencoders/index.html"))
    assert not soup(other).select('link[href*="katex"]')


def load_hook(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_formula_katex_cannot_read_fails_the_build_with_file_and_line(tmp_path: Path):
    from types import SimpleNamespace

    from mkdocs.exceptions import PluginError

    katex = load_hook("katex_math")
    post = tmp_path / "p.md"
    post.write_text("# P\n\nText.\n\n$$\n\\frac{1}{\n$$\n")
    page = SimpleNamespace(file=SimpleNamespace(abs_src_path=str(post), src_uri="p.md"), url="p/")
    config = SimpleNamespace(docs_dir=str(REPO / "docs"))
    broken = '<div class="arithmatex">\\[\n\\frac{1}{\n\\]</div>'
    with pytest.raises(PluginError, match=rf"{re.escape(str(post))}:6: math KaTeX cannot read"):
        katex.on_page_content(broken, page, config, None)
    katex.on_startup("serve", False)  # under serve: the error in the page, the server goes on
    try:
        shown = katex.on_page_content(broken, page, config, None)
    finally:
        katex.on_startup("build", False)
    assert 'class="katex-error"' in shown and "\\frac{1}{" in shown
    good = katex.on_page_content(
        '<span class="arithmatex">\\(a &lt; b\\)</span>', page, config, None
    )
    assert "<mo>&lt;</mo>" in good  # the HTML-escaped source was read as a < b


def test_post_pages_load_the_lightbox_after_their_content(real_site: Path):
    """GLightbox's script and stylesheet are in the body, beside its start-up code: the head's
    stylesheets hold back a phone's first paint, and a lightbox is needed only on a tap."""
    for page in real_site.glob("20*/*/*/*/index.html"):
        html = soup(page)
        assert html.select_one('body script[src$="assets/javascripts/glightbox.min.js"]'), page
        assert html.select_one('body link[href$="assets/stylesheets/glightbox.min.css"]'), page
        assert not html.select('head [href*="glightbox"], head [src*="glightbox"]'), page
        assert html.select_one("#init-glightbox"), page


def test_post_headings_do_not_skip_levels(real_site: Path):
    for page in real_site.glob("20*/*/*/*/index.html"):
        levels = [int(h.name[1]) for h in soup(page).select("article :is(h1, h2, h3, h4, h5, h6)")]
        assert levels[0] == 1 and all(b - a <= 1 for a, b in itertools.pairwise(levels)), (
            page,
            levels,
        )


def test_search_dialog_has_a_name(real_site: Path):
    dialog = soup(real_site / "index.html").select_one('[role="dialog"]')
    assert dialog.get("aria-label")


@pytest.mark.parametrize("partial", sorted(OVERRIDES))
def test_overrides_are_materials_partials_with_one_change(partial: str):
    """A Material upgrade that changes one of these partials fails here: copy it again."""
    ours, theirs = (REPO / "overrides" / partial).read_text(), (MATERIAL / partial).read_text()
    original, changed = OVERRIDES[partial]
    body = lambda text: text.split("-#}\n", 1)[1]  # noqa: E731  (after the header comment)
    assert body(ours) == body(theirs).replace(original, changed, 1) != body(theirs)
