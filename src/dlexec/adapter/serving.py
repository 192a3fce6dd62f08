"""What `mkdocs serve` needs of the adapter beyond a build.

- Posts and snippets live outside docs/: they are watched, and a post whose path turned from a
  folder back into a file is noticed (`_nudge`).
- MkDocs' builder is replaced by `QuickRebuild`: a save that changed only posts' prose
  re-renders those posts and what lists them; `Serving` keeps what each full build leaves
  (MkDocs' structures, the project's inputs) for it.
- Guards that keep the server answering: posts linked out of the project are left out, and a
  post whose front matter the blog plugin would reject is replaced by a stand-in page showing
  why. Errors go to `serve_log`, outside the `mkdocs` logger tree: strict mode does not count
  them and abort the rebuild (which would leave the server stuck).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mkdocs.exceptions import PluginError
from mkdocs.plugins import get_plugin_logger
from mkdocs.structure.files import File, Files
from watchdog.events import FileSystemEvent, FileSystemEventHandler

from ..build.report import BuildReport
from ..build.revisions import prose_edits
from ..config import EngineConfig
from ..errors import EngineError, Location, visible
from ..present.site_pages import stand_in_markdown
from ..sources.front_matter import front_matter_error
from ..sources.site import mkdocs_settings
from .quick_rebuild import FeedItems, Inputs, LastBuild, QuickRebuild

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.livereload import LiveReloadServer

log = get_plugin_logger("dlexec")
serve_log = logging.getLogger("dlexec.serve")


def log_to_terminal() -> None:
    """`serve_log` prints as MkDocs' own lines do."""
    if not serve_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-8s-  %(message)s"))
        serve_log.addHandler(handler)
        serve_log.propagate = False


class Adapter(Protocol):
    """What serving uses of the adapter (`mkdocs_hooks.ExecutedSnippets`)."""

    config: EngineConfig
    report: BuildReport

    def post_notebooks(
        self, report: BuildReport, config: MkDocsConfig
    ) -> tuple[dict[Path, Path], list[EngineError]]: ...

    def notebook_uri(self, post: Path) -> str: ...


class Serving:
    """The serve side of one adapter: watching, and quick rebuilds from the last build."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self.last = LastBuild()

    def build_starts(self, config: MkDocsConfig) -> None:
        log_to_terminal()
        self.last = LastBuild()  # until this build has finished, there is none to start from
        FeedItems(config).forget()

    def keep(self, **parts: Any) -> None:
        """Keep parts of MkDocs' build (config, files, nav, env) as the plugins left them."""
        for name, part in parts.items():
            setattr(self.last, name, part)

    def build_finished(self) -> None:
        self.last.inputs = self.inputs()

    def start(self, server: LiveReloadServer, builder: Callable[[], None]) -> None:
        """Watch posts/ and snippets/ so edits rebuild the page; put the quick rebuild in
        front of MkDocs' builder."""
        engine = self.adapter.config
        folders = (engine.posts_dir, engine.snippets_dir)
        for folder in folders:
            server.watch(str(folder))
        # MkDocs' polling watcher reports a path that turned from a folder back into a file
        # (same inode) as a folder event, which it ignores: the restored post would wait for
        # another edit. Such an event rewrites a file in a watched folder of our own.
        nudge = engine.root / ".cache" / "serve-events" / "changed"
        nudge.parent.mkdir(parents=True, exist_ok=True)
        nudge.write_text("0")
        server.watch(str(nudge.parent))
        handler = FileSystemEventHandler()
        handler.on_any_event = lambda event: _nudge(event, nudge)
        for folder in folders:
            server.observer.schedule(handler, str(folder), recursive=True)
        server.builder = QuickRebuild(
            full=builder,
            last=lambda: self.last,
            revise=self.revise,
            refresh_notebook=self.refresh_notebook,
            scan=self.inputs,
        )

    def inputs(self) -> Inputs:
        """The project's files a build may read (not the site, not the posts' notebooks)."""
        engine = self.adapter.config
        site = engine.root / str(mkdocs_settings(engine.root).get("site_dir", "site"))
        return Inputs.scan(engine.root, [site, engine.notebooks_dir])

    def revise(self, changed: set[Path]) -> list[Path] | None:
        """The changed posts, when nothing but their prose changed (the adapter's report then
        holds their new text); None when the full build must run."""
        engine = self.adapter.config
        report = prose_edits(self.adapter.report, engine, changed)
        if report is None:
            names = [engine.relative(path).as_posix() for path in sorted(changed)]
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            log.info(visible(f"full rebuild: {', '.join(names[:3])}{more} changed beyond prose"))
            return None
        self.adapter.report = report
        return sorted(changed)

    def refresh_notebook(self, post: Path, files: Files) -> None:
        """The post's notebook made from its new text, and published again."""
        adapter = self.adapter
        only = dataclasses.replace(adapter.report, posts={post: adapter.report.posts[post]})
        notebooks, stale = adapter.post_notebooks(only, self.last.config)
        for error in stale:
            serve_log.error(visible(error.shown(adapter.config.root)))
        file = files.get_file_from_path(adapter.notebook_uri(post))
        if post in notebooks and file is not None:
            file.copy_file()


# -- serve's guards: links out of the project, posts the blog would reject -----------------


def refuse_links_out(
    engine: EngineConfig, serving: bool, files: Files, posts: list[Path]
) -> set[Path]:
    """Project files (and posts) that are symlinks out of the project (say docs/x.txt ->
    /etc/passwd) would be copied into the site: the build fails naming every one;
    `serve` leaves them out, says so, and returns them."""
    sources = [Path(file.abs_src_path) for file in files if file.abs_src_path] + posts
    linked = {path for path in sources if engine.leaves_project(path)}
    if not linked:
        return linked
    root = engine.root
    message = "\n".join(
        visible(
            f"{Path(os.path.abspath(path)).relative_to(root).as_posix()}: a symlink to a "
            "file outside the project; it is not published"
        )
        for path in sorted(linked)
    )
    if not serving:
        raise PluginError(message)
    serve_log.error(message)
    for file in list(files):
        if file.abs_src_path and Path(file.abs_src_path) in linked:
            files.remove(file)
    return linked


def blog_would_reject(report: BuildReport, post: Path, config: MkDocsConfig) -> EngineError | None:
    """Under serve: what would make the blog plugin fail the rebuild (a post that cannot
    be read, bad YAML, bad dates or types, unknown author or category), if anything."""
    document = report.posts.get(post)
    if document is None:  # the engine could not read or parse it: its error says why
        located = (e for e in report.errors if e.location and e.location.path == post)
        return next(located, EngineError("the post cannot be read", Location(post)))
    blog = next((p for name, p in config.plugins.items() if name.endswith("blog")), None)
    if blog is None:
        return None
    known = list(getattr(blog, "authors", {}) or {}) if blog.config.authors else None
    return front_matter_error(document, known, blog.config.categories_allowed)


def stand_in(engine: EngineConfig, post: Path, problem: EngineError, config: MkDocsConfig) -> File:
    """A valid post at the same path that shows why the real one cannot be built."""
    shown = engine.relative(post).as_posix()
    content = stand_in_markdown(post.stem, shown, problem.shown(engine.root), date.today())
    folder = engine.root / ".cache" / "serve"
    target = folder / post.relative_to(engine.root)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    uri = post.relative_to(engine.root).as_posix()
    return File(uri, str(folder), config.site_dir, config.use_directory_urls)


def _nudge(event: FileSystemEvent, nudge: Path) -> None:
    if event.is_directory and str(event.src_path).endswith((".md", ".py")):
        nudge.write_text(str(time.time_ns()))
