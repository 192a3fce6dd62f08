"""MkDocs hook: pages that mkdocs-jupyter renders from notebooks (each snippet's full run) cost
next to nothing when their notebook did not change, and stay out of the search index.

- on_page_markdown: mark the page `search: exclude: true` (Material's search plugin reads that
  page meta; the run pages repeat the posts' code and would outrank them). Then take
  mkdocs-jupyter's conversion of the notebook from `.cache/notebook-pages/` (`dlexec.page_cache`,
  keyed by the notebook's bytes, the plugin's settings and the converters' versions), or run it
  (the `render` mkdocs-jupyter gave the page) and store it. The title is set now, before the
  social plugin draws the page's card from it; the page's `render` then only sets its table of
  contents and a stand-in for its content.
- The converter puts the same 0.6 MB of CSS into every page, around the notebook; it is stored
  once and published as one stylesheet (`assets/stylesheets/notebook-<hash>.css`) that each page
  links where the styles were. Styles inside the notebook (a snippet's HTML output) stay.
- on_page_context, after the search plugin: the content replaces the stand-in. The search plugin
  strips attributes from every page's content with a regular expression, even from pages it does
  not index; on these pages that was a tenth of a second per build.
- on_post_build: publish the stylesheets; drop the entries no page used (unless the build was
  dirty: it skipped pages).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import AnchorLink, get_toc
from mkdocs.utils import get_relative_url

from dlexec.adapter.page_cache import PageCache, conversion_key

PLUGIN = "mkdocs-jupyter"
CACHE = ".cache/notebook-pages"
UNKEYED = ("cache", "cache_dir")  # plugin options that do not change a page
FIELDS = {"content", "toc", "title", "stylesheet"}
STAND_IN = "<!-- notebook page: its content is put in after the search plugin has run -->"
# The converter's template wraps the notebook in this element; its styles are outside it.
WRAPPER_START = '<div class="jupyter-wrapper">'
WRAPPER_END = "<!-- jupyter-wrapper -->"
STYLE = re.compile(r"<style\b[^>]*>(.*?)</style>", re.S | re.I)
LINK_HERE = "<!-- notebook page: the stylesheet link goes here -->"
STYLESHEETS = "assets/stylesheets"


@dataclass
class _State:
    """What one MkDocs process remembers between events (serve rebuilds reuse it)."""

    dirty: bool = False
    cache: PageCache | None = None
    contents: dict[str, str] = field(default_factory=dict)  # src_uri -> content, for the template
    stylesheets: set[str] = field(default_factory=set)  # cache file names, to publish


_state = _State()


def on_startup(command: str, dirty: bool) -> None:
    _state.dirty = dirty


def on_config(config: MkDocsConfig) -> None:
    _state.cache = PageCache(Path(config.config_file_path).parent / CACHE)
    _state.contents = {}
    _state.stylesheets = set()


@event_priority(50)  # before the social plugin (-100) starts drawing the card from page.title
def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    plugin = config.plugins.get(PLUGIN)
    if plugin is None or not plugin.should_include(page.file) or _state.cache is None:
        return markdown
    page.meta["search"] = {**(page.meta.get("search") or {}), "exclude": True}
    entry = _conversion(page, plugin, config, files)
    if entry["title"] is not None:
        page.title = entry["title"]

    def render(config: MkDocsConfig, files: Files) -> None:
        page.content, page.toc = STAND_IN, get_toc(entry["toc"])
        _state.contents[page.file.src_uri] = _linked(entry, page)

    page.render = render
    return markdown


def _conversion(page: Page, plugin: BasePlugin, config: MkDocsConfig, files: Files) -> dict:
    """mkdocs-jupyter's conversion of the page's notebook: from the cache, or made now."""
    settings = {name: value for name, value in plugin.config.items() if name not in UNKEYED}
    key = conversion_key(Path(page.file.abs_src_path).read_bytes(), settings)
    entry: dict[str, Any] | None = _state.cache.load(key)
    if entry is not None and entry.keys() >= FIELDS and _has_stylesheet(entry):
        return entry
    page.render(config, files)  # mkdocs-jupyter's conversion, put there by its on_pre_page
    title = vars(page).get("title")  # set by the conversion from the notebook's first heading
    content, css = _without_styles(page.content)
    stylesheet = _state.cache.store_file(css.encode(), ".css") if css else None
    toc = [_token(link) for link in page.toc]
    entry = {"content": content, "toc": toc, "title": title, "stylesheet": stylesheet}
    _state.cache.store(key, entry)
    return entry


def _has_stylesheet(entry: dict[str, Any]) -> bool:
    name = entry["stylesheet"]
    return name is None or _state.cache.shared_file(name) is not None


def _without_styles(content: str) -> tuple[str, str]:
    """The converter's `<style>` blocks (around the notebook) taken out of `content`, a marker
    where the first was; returns the content and their CSS in order. Unchanged, with no CSS,
    when the notebook's wrapper is not found (another converter version)."""
    start, end = content.find(WRAPPER_START), content.rfind(WRAPPER_END)
    if start < 0 or end < start:
        return content, ""
    end += len(WRAPPER_END)
    head, notebook, tail = content[:start], content[start:end], content[end:]
    css: list[str] = []

    def take(style: re.Match[str]) -> str:  # the first style's place gets the link
        css.append(style[1])
        return LINK_HERE if len(css) == 1 else ""

    head, tail = STYLE.sub(take, head), STYLE.sub(take, tail)
    return head + notebook + tail, "\n".join(css)


def _linked(entry: dict[str, Any], page: Page) -> str:
    """The entry's content with its stylesheet linked (relative to the page's URL)."""
    name = entry["stylesheet"]
    if name is None:
        return entry["content"]
    _state.stylesheets.add(name)
    href = get_relative_url(f"{STYLESHEETS}/{_published(name)}", page.url)
    return entry["content"].replace(LINK_HERE, f'<link rel="stylesheet" href="{href}">', 1)


def _token(link: AnchorLink) -> dict[str, Any]:
    """A table-of-contents entry as the token `get_toc` builds it from."""
    children = [_token(child) for child in link.children]
    return {"level": link.level, "id": link.id, "name": link.title, "children": children}


@event_priority(-100)  # after the search plugin (0); the theme's template comes next
def on_page_context(context: dict, page: Page, config: MkDocsConfig, nav) -> dict:
    content = _state.contents.pop(page.file.src_uri, None)
    if content is not None:
        page.content = content
    return context


def _published(name: str) -> str:
    """The site file of the cache file `name` (`<sha256>.css`): a shorter content hash."""
    return f"notebook-{name[:16]}{Path(name).suffix}"


def on_post_build(config: MkDocsConfig) -> None:
    if _state.cache is None:
        return
    target = Path(config.site_dir) / STYLESHEETS
    for name in sorted(_state.stylesheets):
        source = _state.cache.shared_file(name)
        if source is not None:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / _published(name))
    if not _state.dirty:
        _state.cache.evict_unused()
