"""Every internal link and anchor of the built blog leads somewhere."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from bs4 import BeautifulSoup

SITE_URL = "https://example.github.io/deep-learning-executed/"  # mkdocs.yml site_url
SITE_PATH = urlsplit(SITE_URL).path  # 404.html links from the deployment root
ATTRIBUTES = {"a": "href", "img": "src", "link": "href", "script": "src"}


@cache
def parse(page: Path) -> BeautifulSoup:
    return BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")


def target_file(site: Path, page: Path, link: str) -> tuple[Path, str] | None:
    """The local file (and fragment) a link points to; None for external links."""
    if link.startswith(SITE_URL):
        link = "/" + link[len(SITE_URL) :]
    elif link.startswith(SITE_PATH):
        link = "/" + link[len(SITE_PATH) :]
    parts = urlsplit(link)
    if parts.scheme or parts.netloc:
        return None  # external: not checked offline
    if not parts.path:
        return page, parts.fragment
    base = "/" + page.relative_to(site).as_posix()
    path = unquote(urljoin(base, parts.path))
    target = site / path.lstrip("/")
    if path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target, parts.fragment


def has_anchor(page: Path, fragment: str) -> bool:
    if page.suffix != ".html":
        return True  # fragments of images (#only-dark) and files are not anchors
    soup = parse(page)
    return soup.find(id=fragment) is not None or soup.find(attrs={"name": fragment}) is not None


def test_internal_links_and_anchors_resolve(real_site: Path):
    broken = []
    for page in sorted(real_site.rglob("*.html")):
        for tag, attribute in ATTRIBUTES.items():
            for element in parse(page).find_all(tag):
                link = element.get(attribute)
                if not link or link.startswith(("mailto:", "javascript:", "data:")):
                    continue
                resolved = target_file(real_site, page, link)
                if resolved is None:
                    continue
                target, fragment = resolved
                where = f"{page.relative_to(real_site)}: {tag} {link}"
                if not target.is_file():
                    broken.append(f"{where} (no file {target.relative_to(real_site)})")
                elif fragment and tag == "a" and not has_anchor(target, fragment):
                    broken.append(f"{where} (no anchor #{fragment})")
    assert not broken, "broken links:\n" + "\n".join(broken[:50])
