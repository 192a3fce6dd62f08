"""The built blog in a real browser (Debian's Chromium, driven by Playwright; no download).

Every post loads without console errors and with every image decoded; the palette toggle
switches to dark mode and swaps the training curves for their dark variants; search finds a
post by a word from its body.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

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

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed: `sudo apt-get install chromium` (Debian) runs these "
    "browser tests; .ci/run installs it in CI",
)


@pytest.fixture(scope="module")
def base_url(real_site: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(real_site))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
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


def offline(route) -> None:
    """The site's only request beyond its own files is Material's repository facts (stars,
    forks) from the GitHub API; answer it as GitHub would, since tests run offline."""
    url = route.request.url
    if url.startswith("https://api.github.com/repos/"):
        facts = {"stargazers_count": 1, "forks_count": 0, "tag_name": "v1"}
        route.fulfill(status=200, json=facts)
    else:
        EXTERNAL.append(url)
        route.abort()


EXTERNAL: list[str] = []


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(lambda url: not url.startswith(base_url), offline)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()
    assert EXTERNAL == [], f"the page requested external resources: {EXTERNAL}"


def post_urls(real_site: Path, base_url: str) -> list[str]:
    pages = sorted(real_site.glob("20*/*/*/*/index.html"))
    return [base_url + p.parent.relative_to(real_site).as_posix() + "/" for p in pages]


def load_all_images(page) -> list[str]:
    """Make lazy images load now, wait for them, return the sources that failed to decode."""
    page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function("[...document.images].every(i => i.complete)", timeout=30_000)
    return page.evaluate("[...document.images].filter(i => i.naturalWidth === 0).map(i => i.src)")


def test_posts_load_without_errors_and_all_images_decode(page, real_site, base_url):
    urls = post_urls(real_site, base_url)
    assert len(urls) >= 5
    for url in urls:
        page.goto(url, wait_until="load")
        assert page.locator("article h1").count() == 1, url
        assert load_all_images(page) == [], url
        assert page.locator("figure.dlexec-curves").count() >= 1, url
    assert page.errors == []


def test_dark_mode_toggle_swaps_the_curves(page, real_site, base_url):
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
