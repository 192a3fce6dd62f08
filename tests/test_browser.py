"""The built blog in a real browser (Debian's Chromium, driven by Playwright; no download).

Every post loads without console errors and with every image decoded; the palette toggle
switches to dark mode and swaps the training curves for their dark variants; search finds a
post by a word from its body. Every kind of page (post, blog index, archive, tags, category,
run page) fits a phone and a desktop screen in both palettes with legible text; the figures
stay legible in dark mode; no training log needs a horizontal scrollbar on a desktop. No page
may request anything from another origin: the site must work offline and leak no visits.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A phone (an iPhone 12-15 sized screen, touch, 3x pixels) and a common laptop width.
SCREENS: dict[str, dict[str, Any]] = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 3,
    },
    "desktop": {"viewport": {"width": 1280, "height": 900}},
}
SCHEMES = {"light": "default", "dark": "slate"}  # Playwright's color_scheme -> Material's
PAGE_KINDS = ("post", "blog index", "archive", "tags", "category", "run page")
MIN_FONT_PX = 12.0  # the smallest legible text size (Lighthouse's "legible font sizes" too)
MIN_TEXT_CONTRAST = 4.5  # WCAG 2 AA (1.4.3) for normal-size text: chart labels are ~10 px

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed: `sudo apt-get install chromium` (Debian) runs these "
        "browser tests; .ci/run installs it in CI",
    ),
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a tab closed mid-transfer (a broken pipe) is no failure of the site


@pytest.fixture(scope="module")
def base_url(real_site: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(real_site))
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


# Requests refused since the current test began (any tab, workers included), and the tabs
# the test looked at: each tab keeps the other-origin requests it made in tab.external, so a
# test that reuses a loaded tab answers for it too. Checked by `no_external_requests`.
EXTERNAL: list[str] = []
REFUSED: set[str] = set()
SEEN_TABS: list[Any] = []


def block_external(context, base_url: str) -> None:
    """Abort and record every request that leaves the local server (a page that calls
    GitHub's API, a CDN or a font service breaks offline and tells a third party who reads)."""

    def refuse(route) -> None:
        EXTERNAL.append(route.request.url)
        REFUSED.add(route.request.url)
        route.abort()

    context.route(lambda url: is_external(url, base_url), refuse)


@pytest.fixture(autouse=True)
def no_external_requests() -> Iterator[None]:
    EXTERNAL.clear()
    SEEN_TABS.clear()
    yield
    urls = {*EXTERNAL, *(url for tab in SEEN_TABS for url in tab.external)}
    assert urls == set(), f"pages requested other origins: {sorted(urls)}"


def is_external(url: str, base_url: str) -> bool:
    return url.startswith(("http:", "https:", "ws:", "wss:")) and not url.startswith(base_url)


def watch(page, base_url: str) -> Any:
    """Collect console errors and uncaught exceptions in page.errors, and requests to other
    origins in page.external; a refused request's own "Failed to load resource" is left out of
    the errors: no_external_requests reports it by its URL."""
    page.errors = []
    page.external = []
    page.on("request", lambda r: is_external(r.url, base_url) and page.external.append(r.url))
    SEEN_TABS.append(page)

    def console(message) -> None:
        if message.type == "error" and message.location.get("url") not in REFUSED:
            page.errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


@pytest.fixture
def page(browser, base_url):
    """A fresh tab in a fresh desktop context, for tests that change state (palette, search)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    block_external(context, base_url)
    yield watch(context.new_page(), base_url)
    context.close()


@pytest.fixture(scope="module")
def visit(browser, base_url) -> Iterator[Callable[..., Any]]:
    """visit(url, screen, scheme): the page loaded in a tab of the module's context for that
    screen and palette. Tabs stay open for the module: tests that only look share them, which
    keeps the file fast on a small machine."""
    contexts: dict[tuple[str, str], Any] = {}
    tabs: dict[tuple[str, str, str], Any] = {}

    def context_for(screen: str, scheme: str):
        if (screen, scheme) not in contexts:
            context = browser.new_context(**SCREENS[screen], color_scheme=scheme)
            block_external(context, base_url)
            contexts[screen, scheme] = context
        return contexts[screen, scheme]

    def get(url: str, screen: str = "desktop", scheme: str = "light"):
        if (url, screen, scheme) not in tabs:
            tab = watch(context_for(screen, scheme).new_page(), base_url)
            tab.goto(url, wait_until="load")
            tabs[url, screen, scheme] = tab
        SEEN_TABS.append(tabs[url, screen, scheme])
        return tabs[url, screen, scheme]

    yield get
    for context in contexts.values():
        context.close()


def post_urls(real_site: Path, base_url: str) -> list[str]:
    pages = sorted(real_site.glob("20*/*/*/*/index.html"))
    return [base_url + p.parent.relative_to(real_site).as_posix() + "/" for p in pages]


def run_urls(real_site: Path, base_url: str) -> list[str]:
    return [
        base_url + p.parent.relative_to(real_site).as_posix() + "/"
        for p in sorted(real_site.glob("runs/*/index.html"))
    ]


def page_of_kind(real_site: Path, kind: str) -> str:
    """The site-relative URL of one page of each kind the blog builds."""
    first = {
        "post": "20*/*/*/*/index.html",
        "archive": "archive/*/index.html",
        "category": "category/*/index.html",
        "run page": "runs/*/index.html",
    }
    if kind == "blog index":
        return ""
    if kind == "tags":
        return "tags/"
    found = sorted(real_site.glob(first[kind]))
    assert found, f"the site has no {kind}"
    if kind == "run page":  # one with figures, to check that they fit and decode
        found = [p for p in found if "<img" in p.read_text()] or found
    return found[0].parent.relative_to(real_site).as_posix() + "/"


def laid_out(page) -> Any:
    """The page with every code block and output laid out, as each is once a reader scrolls
    to it: the site defers off-screen ones (`content-visibility: auto`), and a measurement of
    one not yet laid out would find no text and no box."""
    page.add_style_tag(
        content=".md-typeset .highlight, .md-typeset .dlexec-outputs "
        "{ content-visibility: visible !important; }"
    )
    return page


def load_all_images(page) -> list[str]:
    """Make lazy images load now, wait for them, return the sources that failed to decode."""
    page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function("[...document.images].every(i => i.complete)", timeout=30_000)
    return page.evaluate(
        "[...document.images].filter(i => i.naturalWidth === 0).map(i => i.src.slice(0, 120))"
    )


def test_posts_load_without_errors_and_all_images_decode(visit, real_site, base_url):
    urls = post_urls(real_site, base_url)
    assert len(urls) >= 5
    for url in urls:
        page = visit(url)
        assert page.locator("article h1").count() == 1, url
        assert load_all_images(page) == [], url
        assert page.locator("figure.dlexec-curves").count() >= 1, url
        assert page.errors == [], url


@pytest.mark.smoke
def test_dark_mode_toggle_swaps_the_curves(page, real_site, base_url):
    """The smoke set's browser page: a real post in Chromium, no request to another origin."""
    page.goto(post_urls(real_site, base_url)[0], wait_until="load")
    load_all_images(page)
    light = page.locator("figure.dlexec-curves img[src$='#only-light']").first
    dark = page.locator("figure.dlexec-curves img[src$='#only-dark']").first
    scheme = page.evaluate("document.body.getAttribute('data-md-color-scheme')")
    if scheme == "slate":  # the browser asked for dark: toggle to light first
        page.locator("label.md-header__button[for^='__palette']:visible").click()
    assert light.is_visible() and not dark.is_visible()
    page.locator("label.md-header__button[for^='__palette']:visible").click()
    assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == "slate"
    assert dark.is_visible() and not light.is_visible()
    assert page.errors == []


def test_search_finds_a_post_by_a_word_from_its_body(page, base_url):
    page.goto(base_url, wait_until="load")
    page.locator("input.md-search__input").click()
    page.keyboard.type("Shakespeare", delay=20)  # Material searches on key events
    results = page.locator(".md-search-result__item")
    results.first.wait_for(timeout=15_000)
    assert "The Future of Machine Learning" in page.locator(".md-search-result").inner_text()
    assert page.errors == []


# Visible elements that stick out past the right edge of the page without a scrolling (or
# clipping) box around them below <body>; fixed elements (drawers, dialogs) never scroll.
WIDER_THAN_SCREEN_JS = """() => {
  const width = document.documentElement.clientWidth, found = [];
  const contained = el => {
    for (let a = el; a && a !== document.body; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.position === 'fixed') return true;
      if (a !== el && style.overflowX !== 'visible') return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    if (!el.checkVisibility() || el.getBoundingClientRect().right <= width + 1) continue;
    if (contained(el) || found.some(f => f.contains(el))) continue;
    found.push(el);
  }
  return {scrollWidth: document.documentElement.scrollWidth, width,
          offenders: found.slice(0, 5).map(e => e.tagName.toLowerCase() + '.' +
            [...e.classList].join('.') + ' (right edge ' +
            Math.round(e.getBoundingClientRect().right) + ' px)')};
}"""

# Font sizes of the visible text in the content column, smallest first, with an example.
SMALL_TEXT_JS = """min => {
  const small = {}, walk = document.createTreeWalker(
    document.querySelector('.md-content') || document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walk.nextNode());) {
    const el = node.parentElement;
    // KaTeX's layout struts hold a zero-width space at a tiny size: nothing a reader reads.
    if (!node.data.replace(/[\\s\\u200b]/g, '') || !el.checkVisibility()) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < min) small[size + ' px'] ??= el.tagName.toLowerCase() + ' in ' +
      el.parentElement.outerHTML.replace(/\\s+/g, ' ').slice(0, 100);
  }
  return small;
}"""


@pytest.mark.parametrize("scheme", list(SCHEMES))
@pytest.mark.parametrize("screen", list(SCREENS))
@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_every_kind_of_page_fits_the_screen_legibly(
    visit, real_site, base_url, kind, screen, scheme
):
    """Loads without console errors, every image decodes, nothing makes the page scroll
    sideways (code, logs and tables scroll inside their own boxes), and no text in the
    content column is smaller than MIN_FONT_PX."""
    page = visit(base_url + page_of_kind(real_site, kind), screen, scheme)
    assert page.evaluate("document.body.dataset.mdColorScheme") == SCHEMES[scheme]
    problems: dict[str, Any] = {}
    if undecoded := load_all_images(page):
        problems["images that do not decode"] = undecoded
    wide = page.evaluate(WIDER_THAN_SCREEN_JS)
    if wide["scrollWidth"] > wide["width"] or wide["offenders"]:
        problems["wider than the screen"] = wide
    if small := page.evaluate(SMALL_TEXT_JS, MIN_FONT_PX):
        problems[f"text under {MIN_FONT_PX:g} px"] = small
    if page.errors:
        problems["console errors"] = page.errors
    assert problems == {}


# The visible images of the content column, with what the contrast check needs: the
# image's own pixels (drawn into a canvas: the server is same-origin and data: URLs do not
# taint), the fill colours of an SVG's <text> elements, and the backgrounds behind it.
FIGURES_JS = """async () => {
  const probe = document.createElement('canvas').getContext('2d', {willReadFrequently: true});
  const rgba = css => {  // any CSS colour -> [r, g, b, a] with a in 0..255, via the canvas
    probe.clearRect(0, 0, 1, 1); probe.fillStyle = '#0000'; probe.fillStyle = css;
    probe.fillRect(0, 0, 1, 1); return [...probe.getImageData(0, 0, 1, 1).data];
  };
  const svgSource = async img => {
    const src = (img.currentSrc || img.src).split('#')[0];
    if (src.startsWith('data:image/svg+xml')) {
      const comma = src.indexOf(','), head = src.slice(0, comma), body = src.slice(comma + 1);
      return head.endsWith(';base64') ? atob(body) : decodeURIComponent(body);
    }
    if (!/\\.svg(\\?|$)/.test(src)) return null;
    return (await fetch(src)).text();
  };
  const textFills = source => {  // inline style, then attribute, inherited; SVG default black
    const svg = new DOMParser().parseFromString(source, 'image/svg+xml');
    return [...svg.querySelectorAll('text')].map(text => {
      for (let el = text; el && el.getAttribute; el = el.parentNode) {
        const fill = (el.style && el.style.fill) || el.getAttribute('fill');
        if (fill) return fill;
      }
      return 'black';
    }).filter(fill => fill !== 'none').map(rgba);
  };
  const pixels = img => {
    const w = img.naturalWidth, h = img.naturalHeight, canvas = document.createElement('canvas');
    canvas.width = w; canvas.height = h;
    const g = canvas.getContext('2d', {willReadFrequently: true});
    g.drawImage(img, 0, 0, w, h);
    const px = new Uint32Array(g.getImageData(0, 0, w, h).data.buffer);  // RGBA, packed
    const all = new Map(), border = new Map();
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const key = px[y * w + x];
      all.set(key, (all.get(key) || 0) + 1);
      if (x === 0 || y === 0 || x === w - 1 || y === h - 1)
        border.set(key, (border.get(key) || 0) + 1);
    }
    const unpack = k => [k & 255, (k >>> 8) & 255, (k >>> 16) & 255, k >>> 24];
    const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
      .map(([k, c]) => [unpack(k), c]);
    return {colours: top(all, 64), border: top(border, 1)[0][0]};
  };
  const behind = img => {  // background colours from the image's parent outwards
    const layers = [];
    for (let el = img.parentElement; el; el = el.parentElement) {
      const colour = rgba(getComputedStyle(el).backgroundColor);
      if (colour[3] > 0) layers.push(colour);
      if (colour[3] === 255) break;
    }
    return layers;
  };
  const found = [];
  for (const img of document.querySelectorAll('.md-content img')) {  // not authors' avatars
    if (!img.checkVisibility() || !img.naturalWidth || img.closest('.md-author')) continue;
    const source = await svgSource(img);
    const src = img.currentSrc || img.src, n = found.length + 1;  // data: URLs are long
    found.push({src: src.startsWith('data:') ? `${src.split(/[;,]/)[0]} (image ${n})` :
      src.split('/').slice(-2).join('/'), alt: img.alt,
      dark: img.src.endsWith('#only-dark'),
      curves: !!img.closest('.dlexec-curves'), behind: behind(img),
      texts: source ? textFills(source) : [], ...pixels(img)});
  }
  return found;
}"""

Colour = tuple[float, ...]


def luminance(rgb: Colour) -> float:
    """WCAG 2 relative luminance of an sRGB colour (0-255 channels)."""

    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Colour, b: Colour) -> float:
    """WCAG 2 contrast ratio, 1 (none) to 21 (black on white)."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def over(top: Colour, bottom: Colour) -> Colour:
    """`top` (RGBA, alpha 0-255) painted over the opaque colour `bottom`."""
    alpha = top[3] / 255 if len(top) > 3 else 1.0
    return tuple(alpha * t + (1 - alpha) * b for t, b in zip(top[:3], bottom[:3], strict=True))


def backdrop(layers: list[list[int]]) -> Colour:
    """The opaque colour behind an image: its ancestors' backgrounds, innermost first, over
    the white canvas a browser paints when no ancestor paints one."""
    colour: Colour = (255, 255, 255)
    for layer in reversed(layers):
        colour = over(tuple(layer), colour)
    return colour


def ink(colours: list[tuple[list[int], int]], background: Colour, page: Colour) -> Colour | None:
    """A raster figure's text colour: the most frequent grey that is not its background
    (labels, ticks and axes are drawn in one neutral ink; data lines are coloured)."""
    for rgba, _count in colours:
        seen = over(tuple(rgba), page)
        grey = max(seen) - min(seen) <= 24
        if grey and max(abs(s - b) for s, b in zip(seen, background, strict=True)) > 16:
            return seen
    return None


def figure_problem(figure: dict[str, Any]) -> str | None:
    """Why a figure's text is hard to read on the page it sits on, or None."""
    page = backdrop(figure["behind"])
    background = over(tuple(figure["border"]), page)  # where titles and tick labels sit
    texts = [over(tuple(t), background) for t in figure["texts"]]
    if not texts and (found := ink(figure["colours"], background, page)) is not None:
        texts = [found]
    worst = min(texts, key=lambda t: contrast(t, background), default=None)
    if worst is None or contrast(worst, background) >= MIN_TEXT_CONTRAST:
        return None
    variant = "dark variant" if figure["dark"] else "light or only variant"
    opaque = "opaque" if figure["border"][3] == 255 else "transparent"
    return (
        f"{figure['src']}: text {rgb_hex(worst)} on {rgb_hex(background)} has contrast "
        f"{contrast(worst, background):.2f} < {MIN_TEXT_CONTRAST} ({variant}, {opaque} "
        f"background over the page's {rgb_hex(page)})"
    )


def rgb_hex(colour: Colour) -> str:
    return "#" + "".join(f"{round(c):02x}" for c in colour[:3])


def test_contrast_follows_wcag():
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21)
    assert contrast((0x33, 0x33, 0x33), (0x1E, 0x21, 0x29)) < 1.5  # light curves on slate
    assert figure_problem(
        {
            "behind": [[30, 33, 41, 255]],
            "border": [0, 0, 0, 0],
            "texts": [[51, 51, 51, 255]],
            "colours": [],
            "src": "light.svg",
            "dark": False,
        }
    )
    assert not figure_problem(
        {
            "behind": [[30, 33, 41, 255]],
            "border": [255, 255, 255, 255],
            "texts": [],
            "colours": [([255, 255, 255, 255], 9), ([0, 0, 0, 255], 2)],
            "src": "f.png",
            "dark": False,
        }
    )


def svg_chart(text_fill: str, background: str | None = None) -> str:
    """A data: URL of a small SVG with one label, on `background` or transparent."""
    from urllib.parse import quote

    rect = f'<rect width="100%" height="100%" fill="{background}"/>' if background else ""
    label = f'<text x="10" y="40" style="font-size: 10px; fill: {text_fill}">val_loss</text>'
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="80">{rect}{label}</svg>'
    return "data:image/svg+xml," + quote(svg)


def test_the_figure_check_fails_light_transparent_charts_on_slate(page):
    """The check below can fail: a light-palette chart drawn on a transparent background (grey
    text) is unreadable on Material's slate page; its dark variant and a chart on an opaque
    white card are fine."""
    charts = {
        "light": svg_chart("#333333"),
        "dark": svg_chart("#e6e6e6") + "#only-dark",
        "card": svg_chart("#333333", "#ffffff"),
    }
    images = "".join(f'<img alt="{name}" src="{src}">' for name, src in charts.items())
    page.set_content(
        f'<body style="background: #1e2129"><div class="md-content">{images}</div></body>'
    )
    load_all_images(page)
    verdicts = {f["alt"]: figure_problem(f) for f in page.evaluate(FIGURES_JS)}
    assert set(verdicts) == set(charts)
    assert "contrast 1.27" in verdicts["light"]
    assert verdicts["dark"] is None and verdicts["card"] is None


@pytest.mark.parametrize("kind", ["post", "run page"])
def test_figures_are_legible_in_dark_mode(visit, real_site, base_url, kind):
    """In the slate palette, the text of every visible figure (training curves, figures the
    snippets draw) has a WCAG contrast of at least MIN_TEXT_CONTRAST against the background it
    sits on: the figure's own border colour, composited over the page where transparent."""
    urls = post_urls(real_site, base_url) if kind == "post" else run_urls(real_site, base_url)
    problems: list[str] = []
    checked = Counter[str]()
    for url in urls:
        page = visit(url, "desktop", "dark")
        assert page.evaluate("document.body.dataset.mdColorScheme") == "slate"
        load_all_images(page)
        figures = page.evaluate(FIGURES_JS)
        checked.update(url for f in figures if f["curves"] or kind == "run page")
        if kind == "post":  # every curves figure shows an image we can check
            curves = page.locator("figure.dlexec-curves:visible").count()
            assert curves and checked[url] >= curves, f"{url}: curves not checked"
        problems += [f"{url}: {p}" for f in figures if (p := figure_problem(f))]
    assert sum(checked.values()) > 0
    assert problems == []


# Each visible log or table of an output that shows Keras training numbers, and every box
# in, around (up to the outputs block) or of it that is narrower than what it holds.
LOG_OVERFLOW_JS = """() => {
  const numbers = /val_loss|val_accuracy|loss:/, found = [];
  let logs = 0;
  const name = e =>
    e.tagName.toLowerCase() + [...e.classList].map(c => '.' + c).join('');
  for (const outputs of document.querySelectorAll('.dlexec-outputs')) {
    for (const el of outputs.querySelectorAll('pre, table')) {
      if (!el.checkVisibility() || !numbers.test(el.innerText)) continue;
      logs += 1;
      const boxes = [el, ...el.querySelectorAll('*')]
        .filter(b => b.checkVisibility() && getComputedStyle(b).display !== 'inline');
      for (let a = el.parentElement; a !== outputs.parentElement; a = a.parentElement)
        boxes.push(a);
      for (const box of boxes) if (box.scrollWidth > box.clientWidth + 1)
        found.push(`${name(el)} > ${name(box)}: ${box.scrollWidth} px of content in ` +
                   `${box.clientWidth} px, e.g. "${el.innerText.split('\\n').reduce(
                     (a, b) => b.length > a.length ? b : a).slice(0, 60)}..."`);
    }
  }
  return {logs, found};
}"""


def test_no_training_log_needs_a_scrollbar_at_desktop_width(visit, real_site, base_url):
    """At 1280 px every epoch line (or table row) of a visible training log fits its box:
    the numbers a reader compares must not hide behind a horizontal scrollbar."""
    problems: list[str] = []
    logs = 0
    for url in post_urls(real_site, base_url):
        found = laid_out(visit(url, "desktop", "light")).evaluate(LOG_OVERFLOW_JS)
        logs += found["logs"]
        problems += [f"{url}: {p}" for p in found["found"]]
    assert logs > 0, "no visible training log found on any post"
    assert problems == []


def test_math_shows_in_katex_fonts_with_no_script(visit, real_site, base_url):
    page = visit(next(u for u in post_urls(real_site, base_url) if "key-concepts" in u))
    assert page.locator(".arithmatex .katex").count() >= 1
    assert page.locator(".katex-error").count() == 0
    page.wait_for_function(  # KaTeX's own font, served by the site, was used
        "[...document.fonts].some(f => f.family.includes('KaTeX_Main') && f.status == 'loaded')",
        timeout=15_000,
    )
    assert page.evaluate("typeof katex") == "undefined"  # rendered when the site was built
    assert page.errors == []


def test_a_tap_on_a_curve_opens_it_larger(page, real_site, base_url):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(post_urls(real_site, base_url)[0], wait_until="load")
    panel = page.locator("figure.dlexec-curves img[src$='#only-light']").first
    panel.scroll_into_view_if_needed()
    shown = panel.bounding_box()["width"]
    panel.click()
    slide = page.locator(".glightbox-container .gslide.current img")
    slide.wait_for(timeout=10_000)
    page.wait_for_function(  # the opening animation ends larger than the panel in the page
        "([selector, shown]) => document.querySelector(selector)"
        "?.getBoundingClientRect().width > shown",
        arg=[".glightbox-container .gslide.current img", shown],
        timeout=10_000,
    )
    assert slide.get_attribute("src").endswith("#only-light")  # the palette's own variant
    page.keyboard.press("Escape")
    assert page.errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_curves_of_claimed_snippets_show_their_seed_band_on_a_phone(
    visit, real_site, base_url, scheme
):
    """Issue 25: every post claims something, so each shows at least one fit drawn over its
    seeds (a band SVG, in the page's palette), captioned as such, legible at 390 px. Every
    post in dark mode, where legibility is hardest; the light drawings (the same figures in
    the other palette's colours) on the first post."""
    problems: list[str] = []
    urls = post_urls(real_site, base_url)
    for url in urls if scheme == "dark" else urls[:1]:
        page = laid_out(visit(url, "phone", scheme))
        load_all_images(page)
        bands = page.locator(f"figure.dlexec-curves img[src*='/band-'][src$='#only-{scheme}']")
        visible = [bands.nth(i) for i in range(bands.count()) if bands.nth(i).is_visible()]
        assert visible, f"{url}: no curves over seeds"
        caption = visible[0].locator("xpath=ancestor::figure").locator("figcaption").inner_text()
        assert "seeds" in caption and "lowest to the highest run" in caption, caption
        widths = [image.bounding_box()["width"] for image in visible]
        assert min(widths) >= 300, f"{url}: a band panel is {min(widths)} px wide"
        figures = [f for f in page.evaluate(FIGURES_JS) if "/band-" in f["src"]]
        problems += [f"{url}: {p}" for f in figures if (p := figure_problem(f))]
    assert problems == []


CHOSEN_TABS_JS = """() => [...document.querySelectorAll('.dlexec-backends')].map(set => {
  const input = set.querySelector(':scope > input:checked');
  return set.querySelector(`label[for="${input.id}"]`).innerText.trim();
})"""
SHOWN_TAB_JS = """(set) => {
  const block = [...set.querySelectorAll('.tabbed-block')].find(b => b.offsetParent !== null);
  return {text: block.innerText, images: [...block.querySelectorAll('img')]
    .filter(i => i.offsetParent !== null).map(i => i.getAttribute('src'))};
}"""


@pytest.mark.parametrize(("screen", "scheme"), [("phone", "dark"), ("desktop", "light")])
def test_backend_tabs_switch_every_output_and_the_choice_follows_the_reader(
    browser, real_site, base_url, screen, scheme
):
    """Issue 25: every embed's outputs in one tab per backend, labelled with its version; a
    tab shows that backend's own text and curves; choosing JAX switches every tab set of the
    page (Material's linked tabs) and the next page opens on JAX too."""
    context = browser.new_context(**SCREENS[screen], color_scheme=scheme)
    block_external(context, base_url)
    page = watch(context.new_page(), base_url)
    first, *others = post_urls(real_site, base_url)
    page.goto(first, wait_until="load")
    embeds = page.locator("article div.highlight").count()
    assert page.locator(".dlexec-backends").count() == embeds, "an embed without backend tabs"
    assert page.locator(".dlexec-backends .tabbed-block > .dlexec-outputs").count() == 3 * embeds
    tab_set = page.locator(".dlexec-backends").filter(has=page.locator("figure.dlexec-curves"))
    tab_set = tab_set.first
    labels = tab_set.locator(".tabbed-labels label")
    names = [labels.nth(i).inner_text().strip() for i in range(labels.count())]
    assert [name.split()[0] for name in names] == ["TensorFlow", "JAX", "PyTorch"], names
    assert all(re.fullmatch(r"\w+ \d+\.\d+", name) for name in names), names
    tab_set.scroll_into_view_if_needed()
    before = tab_set.evaluate(SHOWN_TAB_JS)
    labels.nth(1).click()
    after = tab_set.evaluate(SHOWN_TAB_JS)
    assert after["text"] != before["text"]
    assert after["images"] and set(after["images"]).isdisjoint(before["images"])
    assert all(f"#only-{scheme}" in src for src in after["images"] if "/curves-" in src)
    assert set(page.evaluate(CHOSEN_TABS_JS)) == {names[1]}  # every tab set of the page
    page.goto(others[0], wait_until="load")
    assert set(page.evaluate(CHOSEN_TABS_JS)) == {names[1]}  # and of the next page
    assert page.errors == []
    context.close()
