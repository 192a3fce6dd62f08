"""MkDocs hook: pages that mkdocs-jupyter renders from notebooks (each snippet's full run) cost
next to nothing when their notebook did not change, and stay out of the search index.

- on_page_markdown: mark the page `search: exclude: true` (Material's search plugin reads that
  page meta; the run pages repeat the posts' code and would outrank them). Then take
  mkdocs-jupyter's conversion of the notebook from `.cache/notebook-pages/` (`dlexec.page_cache`,
  keyed by the notebook's bytes, the plugin's settings and the converters' versions), or run it
  (the `render` mkdocs-jupyter gave the page) and store it. The title is set now, before the
  social plugin draws the page's card from it; the page's `render` then only sets its table of
  contents and a stand-in for its content.
- on_page_context, after the search plugin: the content replaces the stand-in. The search plugin
  strips attributes from every page's content with a regular expression, even from pages it does
  not index; on these pages (about 1 MB each, mostly embedded figures) that was a tenth of a
  second per build.
- on_post_build: drop the entries no page used (unless the build was dirty: it skipped pages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import AnchorLink, get_toc

from dlexec.page_cache import PageCache, conversion_key

PLUGIN = "mkdocs-jupyter"
CACHE = ".cache/notebook-pages"
UNKEYED = ("cache", "cache_dir")  # plugin options that do not change a page
FIELDS = {"content", "toc", "title"}
STAND_IN = "<!-- notebook page: its content is put in after the search plugin has run -->"


@dataclass
class _State:
    """What one MkDocs process remembers between events (serve rebuilds reuse it)."""

    dirty: bool = False
    cache: PageCache | None = None
    contents: dict[str, str] = field(default_factory=dict)  # src_uri -> content, for the template


_state = _State()


def on_startup(command: str, dirty: bool) -> None:
    _state.dirty = dirty


def on_config(config: MkDocsConfig) -> None:
    _state.cache = PageCache(Path(config.config_file_path).parent / CACHE)
    _state.contents = {}


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
        _state.contents[page.file.src_uri] = entry["content"]

    page.render = render
    return markdown


def _conversion(page: Page, plugin: BasePlugin, config: MkDocsConfig, files: Files) -> dict:
    """mkdocs-jupyter's conversion of the page's notebook: from the cache, or made now."""
    settings = {name: value for name, value in plugin.config.items() if name not in UNKEYED}
    key = conversion_key(Path(page.file.abs_src_path).read_bytes(), settings)
    entry: dict[str, Any] | None = _state.cache.load(key)
    if entry is not None and entry.keys() >= FIELDS:
        return entry
    page.render(config, files)  # mkdocs-jupyter's conversion, put there by its on_pre_page
    title = vars(page).get("title")  # set by the conversion from the notebook's first heading
    entry = {"content": page.content, "toc": [_token(link) for link in page.toc], "title": title}
    _state.cache.store(key, entry)
    return entry


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


def on_post_build(config: MkDocsConfig) -> None:
    if _state.cache is not None and not _state.dirty:
        _state.cache.evict_unused()
