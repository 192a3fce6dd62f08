"""Quick rebuilds under `mkdocs serve`: a save that changed only the prose of posts re-renders
those posts and the blog pages that list them, from the state the last full build left.

MkDocs rebuilds the whole site on every save (50 s at 200 posts on two cores). Its `--dirty`
mode skips unchanged pages, but it drops them from the search index and the feeds, and warns
on every rebuild (which `strict: true` turns into an abort). Hugo's "fast render" is the model
here: re-render what changed, keep the rest.

What a save changed is read from the files themselves (size and modification time of every
file of the project a build may read, taken when the last full build finished), not from
watcher events: a quick rebuild happens only when every changed file is a post the last build
rendered and the engine vouches that only its prose changed (`build.revisions`). Anything else
(a snippet, front matter, a title, a new post, docs/, mkdocs.yml, nothing visible at all) runs
MkDocs' full build, and so does any failure of the quick one.

A quick rebuild runs MkDocs' own page steps (`_populate_page`, `_build_page`: every plugin's
and hook's page events) for the edited posts and the views that list them, then writes the
search index and the feeds again. Three plugins keep per-page state across those events; each
is put back as a full build would leave it: the blog plugin (a post's Markdown is read when
posts are collected; authors are appended per render; the reading time is computed once),
the search index (a page's entries replaced in place) and the RSS plugin (a page's item
replaced in place). tests/test_quick_rebuild.py holds every page, the search index and the
feeds equal to a full build's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mkdocs.commands.build import _build_page, _populate_page
from mkdocs.plugins import get_plugin_logger
from mkdocs.structure.files import InclusionLevel
from mkdocs.utils.meta import YAML_RE

if TYPE_CHECKING:
    import jinja2
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.nav import Navigation
    from mkdocs.structure.pages import Page

log = get_plugin_logger("dlexec")
# Folders no build reads from (they hold what builds, tools and editors write).
SKIPPED_FOLDERS = {"node_modules", "__pycache__"}


@dataclass(frozen=True)
class Inputs:
    """Size and modification time of each file of the project a build may read."""

    stats: Mapping[Path, tuple[int, int]]

    @classmethod
    def scan(cls, root: Path, outputs: Iterable[Path]) -> Inputs:
        """Every file under `root` but in hidden folders (.git, .cache, .venv), `outputs`
        (the site, the posts' notebooks), node_modules and __pycache__; hidden files and
        editors' backups (`name~`) are not inputs either."""
        skipped = {Path(os.path.abspath(path)) for path in outputs}
        stats: dict[Path, tuple[int, int]] = {}
        for folder, folders, names in os.walk(root):
            here = Path(folder)
            folders[:] = [
                name
                for name in folders
                if not name.startswith(".")
                and name not in SKIPPED_FOLDERS
                and here / name not in skipped
            ]
            for name in names:
                if name.startswith(".") or name.endswith("~"):
                    continue
                try:
                    stat = os.stat(here / name)
                except OSError:  # removed while scanning: the next scan sees it gone
                    continue
                stats[here / name] = (stat.st_mtime_ns, stat.st_size)
        return cls(stats)

    def changed_since(self, earlier: Inputs) -> set[Path]:
        """Files added, removed or modified since `earlier`."""
        paths = self.stats.keys() | earlier.stats.keys()
        return {path for path in paths if self.stats.get(path) != earlier.stats.get(path)}


@dataclass
class LastBuild:
    """What a finished full build leaves for quick rebuilds: MkDocs' structures, with every
    page populated, and the project's inputs as they were when it finished."""

    config: MkDocsConfig | None = None
    files: Files | None = None
    nav: Navigation | None = None
    env: jinja2.Environment | None = None
    inputs: Inputs | None = None

    def complete(self) -> bool:
        return None not in (self.config, self.files, self.nav, self.env, self.inputs)


@dataclass(frozen=True)
class QuickRebuild:
    """Stands in for MkDocs' builder under serve: a quick rebuild when `revise` accepts every
    changed file, else `full`. `last` gives what the last build left (the adapter keeps it,
    since MkDocs' first build runs before the server exists). `revise` takes the changed
    files; it returns the posts among them whose prose alone changed (their new documents
    taken into the engine's report), or None."""

    full: Callable[[], None]
    last: Callable[[], LastBuild]
    revise: Callable[[set[Path]], list[Path] | None]
    refresh_notebook: Callable[[Path, Files], None]
    scan: Callable[[], Inputs]

    def __call__(self) -> None:
        last = self.last()
        if last.complete():
            started = time.perf_counter()
            inputs = self.scan()
            changed = inputs.changed_since(last.inputs)
            posts = self.revise(changed) if changed else None
            if posts and self._rerender(last, posts):
                last.inputs = inputs
                seconds = time.perf_counter() - started
                log.info(f"quick rebuild: {_names(posts)} in {seconds:.2f} s")
                return
        self.full()

    def _rerender(self, last: LastBuild, posts: list[Path]) -> bool:
        """Render the posts and the views that list them again; False when that is not enough
        (a title changed) or failed: the full build then runs."""
        last.inputs = None  # half re-rendered: only a full build is a start again
        try:
            return rerender(last, posts, self.refresh_notebook)
        except Exception as error:  # the full build runs instead, and reports what is wrong
            log.warning(f"quick rebuild failed ({type(error).__name__}: {error}); building all")
            return False


def rerender(last: LastBuild, posts: list[Path], refresh_notebook: Callable) -> bool:
    """MkDocs' page steps for the edited posts, then for the views that list them; the search
    index, feeds and notebooks written again. False (nothing written) when a post's title
    changed: the navigation, lists and neighbours' links show it, so all must be built."""
    config, files = last.config, last.files
    doc_files = files.documentation_pages(inclusion=InclusionLevel.is_in_serve)
    pages = [_page_of(files, post) for post in posts]
    if any(page is None for page in pages):
        return False
    titles = [page.title for page in pages]
    views = _views_listing(config, doc_files, pages)
    search, feeds = SearchEntries(config), FeedItems(config)
    for page in pages:
        _reread_post(page)
        with feeds.replacing(page):
            _populate_page(page, config, files)
    if [page.title for page in pages] != titles:  # the nav, lists and neighbours show titles
        return False
    for view in views:
        _populate_page(view, config, files)
    for page in [*pages, *views]:
        with search.replacing(page):
            _build_page(page, config, doc_files, last.nav, last.env)
    for post in posts:
        refresh_notebook(post, files)
    search.write()
    feeds.write()
    return True


def _page_of(files: Files, post: Path) -> Page | None:
    for file in files.documentation_pages():
        if file.abs_src_path and Path(file.abs_src_path) == post:
            return file.page
    return None


def _views_listing(config: MkDocsConfig, doc_files: Iterable, pages: list[Page]) -> list[Page]:
    """The blog's views (index, archive, categories; each page of their pagination) that
    show an excerpt of one of `pages`."""
    blog = _plugin(config, "blog")
    if blog is None:
        return []
    from material.plugins.blog.structure import View

    views = []
    for file in doc_files:
        view = file.page
        if not isinstance(view, View):
            continue
        shown = view.posts
        if blog._config_pagination(view):
            step = blog._config_pagination_per_page(view)
            at = view.pages.index(view) * step
            shown = view.posts[at : at + step]
        if any(page in shown for page in pages):
            views.append(view)
    return views


def _reread_post(page: Page) -> None:
    """Put the blog plugin's post back as its collection of posts leaves it: the Markdown read
    from the file (its front matter, unchanged, stays parsed), no authors, no reading time
    unless the front matter sets one."""
    with open(page.file.abs_src_path, encoding="utf-8-sig") as source:
        text = source.read()
    match = YAML_RE.match(text)
    page.markdown = text[match.end() :].lstrip("\n") if match else text
    if hasattr(page, "authors"):
        page.authors = []
        page.config.readtime = page.meta.get("readtime")


class SearchEntries:
    """The search plugin's index: a page's entries replaced where they were."""

    def __init__(self, config: MkDocsConfig) -> None:
        self.config = config
        self.plugin = _plugin(config, "search")

    def replacing(self, page: Page) -> _Replacing:
        entries = self.plugin.search_index.entries if self.plugin else []
        url = page.url

        def belongs(entry: dict) -> bool:
            location = entry["location"]
            return location == url or location.startswith(url + "#")

        return _Replacing(entries, belongs)

    def write(self) -> None:
        if self.plugin:
            self.plugin.on_post_build(config=self.config)


class FeedItems:
    """The RSS plugin's items: a post's item replaced where it was."""

    def __init__(self, config: MkDocsConfig) -> None:
        self.config = config
        self.plugin = _plugin(config, "rss")

    def replacing(self, page: Page) -> _Replacing:
        items = self.plugin.pages_to_filter if self.plugin else []
        path = Path(page.file.abs_src_path)
        return _Replacing(items, lambda item: item.abs_path == path)

    def forget(self) -> None:
        """Drop the items of earlier builds. The RSS plugin (1.19) empties its list only when
        the server starts, so under serve each full rebuild added every post again: the feeds
        showed each post once more per rebuild."""
        if self.plugin:
            self.plugin.pages_to_filter.clear()

    def write(self) -> None:
        if self.plugin:
            self.plugin.feed_created.entries.clear()  # filled from the items by on_post_build
            self.plugin.feed_updated.entries.clear()
            self.plugin.on_post_build(config=self.config)


class _Replacing:
    """Around a page's events: the items the page had in `items` are taken out, and what the
    events append for it is put back at the first of their places (a full build's order)."""

    def __init__(self, items: list, belongs: Callable[[Any], bool]) -> None:
        self.items, self.belongs = items, belongs

    def __enter__(self) -> None:
        places = [i for i, item in enumerate(self.items) if self.belongs(item)]
        self.at = places[0] if places else len(self.items)
        self.items[:] = [item for item in self.items if not self.belongs(item)]
        self.before = len(self.items)

    def __exit__(self, *exc: object) -> None:
        added = self.items[self.before :]
        del self.items[self.before :]
        self.items[self.at : self.at] = added


def _plugin(config: MkDocsConfig, name: str) -> Any:
    for key, plugin in config.plugins.items():
        if key == name or key.endswith(f"/{name}"):
            return plugin
    return None


def _names(posts: list[Path]) -> str:
    return ", ".join(post.name for post in posts)
