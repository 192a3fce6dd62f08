"""MkDocs hook: wires MkDocs events to the dlexec engine, nothing more.

- on_files: add the top-level `posts/` to the site as blog posts (the blog plugin expects them
  under docs/), let the engine prepare every referenced snippet, print the summary line, sync
  the posts' notebooks, and publish result figures and notebooks. Under `mkdocs build` any
  error fails the build; under `mkdocs serve` the server keeps running and each page shows its
  errors in place. Serve must never abort a rebuild (MkDocs then stops answering until a build
  succeeds), so there errors are logged outside MkDocs' strict-mode counter, and a post whose
  front matter the blog plugin would reject is replaced by a stand-in page showing the error.
- on_page_markdown / on_page_content: expand embeds and placeholders, then insert outputs.
- on_page_context: a run page (a snippet's full run) links back to the posts that show it.
- on_serve: watch posts/ and snippets/, which live outside docs/.
"""

from __future__ import annotations

import html
import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority, get_plugin_logger
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url
from watchdog.events import FileSystemEvent, FileSystemEventHandler

from dlexec.build.engine import Engine
from dlexec.build.report import BuildReport, SnippetRun
from dlexec.config import EngineConfig, Mode
from dlexec.errors import AuthoringError, EngineError, Location, visible
from dlexec.present.notebooks import (
    NotebookStamps,
    colab_url,
    sync_post_notebooks,
    sync_snippet_notebook,
)
from dlexec.present.page import Links, RenderedPage, error_html, notebook_buttons, render_page
from dlexec.progress import Bar
from dlexec.tools.scaffold import description_warnings

if TYPE_CHECKING:
    from mkdocs.livereload import LiveReloadServer

log = get_plugin_logger("dlexec")
# Under serve, errors go to this logger: it is outside the `mkdocs` logger tree, so strict mode
# does not count them and abort the rebuild (which would leave the server stuck).
serve_log = logging.getLogger("dlexec.serve")
ASSETS = "assets/results"
RUNS = "runs"  # companion pages: each snippet's executed notebook, rendered by mkdocs-jupyter
NOTEBOOKS = "notebooks"
STAMPS = "notebook-stamps"  # under .cache/: which notebooks hold what their inputs make
MORE = "<!-- more -->"


@dataclass
class _State:
    """What one MkDocs process remembers between events (serve rebuilds reuse it)."""

    serving: bool = False
    config: EngineConfig | None = None
    report: BuildReport = field(default_factory=BuildReport)
    notebooks: dict[Path, Path] = field(default_factory=dict)
    pages: dict[str, RenderedPage] = field(default_factory=dict)
    files: Files | None = None
    run_pages: dict[str, Path] = field(default_factory=dict)  # run page src_uri -> snippet


_state = _State()


def on_startup(command: str, dirty: bool) -> None:
    _state.serving = command == "serve"
    if _state.serving and not serve_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-8s-  %(message)s"))
        serve_log.addHandler(handler)
        serve_log.propagate = False


def on_config(config: MkDocsConfig) -> None:
    try:
        _state.config = EngineConfig.load(Path(config.config_file_path).parent)
    except EngineError as error:  # a bad BLOG_* variable or [tool.dlexec]: one line, no traceback
        raise PluginError(str(error)) from None


def on_serve(server: LiveReloadServer, config: MkDocsConfig, builder: Callable) -> None:
    """Posts and snippets live outside docs/: watch them so edits rebuild the page."""
    folders = (_state.config.posts_dir, _state.config.snippets_dir)
    for folder in folders:
        server.watch(str(folder))
    # MkDocs' polling watcher reports a path that turned from a folder back into a file (same
    # inode) as a folder event, which it ignores: the restored post would wait for another
    # edit. Such an event rewrites a file in a watched folder of our own, which rebuilds.
    nudge = _state.config.root / ".cache" / "serve-events" / "changed"
    nudge.parent.mkdir(parents=True, exist_ok=True)
    nudge.write_text("0")
    server.watch(str(nudge.parent))
    handler = FileSystemEventHandler()
    handler.on_any_event = lambda event: _nudge(event, nudge)
    for folder in folders:
        server.observer.schedule(handler, str(folder), recursive=True)


def _nudge(event: FileSystemEvent, nudge: Path) -> None:
    if event.is_directory and str(event.src_path).endswith((".md", ".py")):
        nudge.write_text(str(time.time_ns()))


@event_priority(100)  # before the blog plugin collects posts and mkdocs-jupyter notebooks
def on_files(files: Files, config: MkDocsConfig) -> Files:
    engine_config = _state.config
    posts = sorted(engine_config.posts_dir.glob("*.md"))
    linked = _refuse_links_out(files, posts)
    posts = [post for post in posts if post not in linked]
    try:
        # Log lines go above the progress lines (tqdm redraws them), not through them.
        bar = Bar(loggers=[logging.getLogger("mkdocs")], log=log.info)
        report = Engine(engine_config, log.info, bar).prepare(posts)
    except Exception as error:  # an engine bug must not stop the server either
        if not _state.serving:
            raise
        report = BuildReport(errors=[EngineError(traceback.format_exc().rstrip())])
        serve_log.error(visible(f"the engine failed: {error}"))
    _state.report = report
    for post in posts:  # each read and parsed once, by the engine: the report has it
        problem = _blog_would_reject(post, report, config) if _state.serving else None
        files.append(
            _project_file(post, config) if problem is None else _stand_in(post, problem, config)
        )
    log.info(report.summary_line())
    for warning in description_warnings(report.posts.values(), engine_config.root):
        (serve_log if _state.serving else log).warning(warning)  # --strict fails CI on it
    if report.count("executed") or report.count("failed"):
        log.info("time per snippet, slowest first:\n" + "\n".join(report.timing_lines()))
    write = engine_config.mode is not Mode.NEVER
    _state.notebooks, stale = sync_post_notebooks(
        report,
        engine_config.notebooks_dir,
        write,
        lambda post: _source_url(post, config),
        _stamps(),
    )
    report.errors += stale
    if report.errors:
        _report_errors(report)
    for post, notebook in _state.notebooks.items():
        files.append(File.generated(config, _notebook_uri(post), abs_src_path=str(notebook)))
    _state.run_pages = {}
    for run in report.runs.values():
        if run.result is not None and run.status != "failed":
            _publish_run(run, files, config)
    _state.files = files
    return files


def _project_file(path: Path, config: MkDocsConfig) -> File:
    """A file of the project (outside docs/) at its path relative to the project root."""
    uri = path.relative_to(_state.config.root).as_posix()
    return File(uri, str(_state.config.root), config.site_dir, config.use_directory_urls)


def _publish_run(run: SnippetRun, files: Files, config: MkDocsConfig) -> None:
    """Result figures as site assets, and the run's notebook as a companion page."""
    for name in run.result.files:
        files.append(
            File.generated(
                config, _asset_uri(run.folder, name), abs_src_path=str(run.folder / name)
            )
        )
    cache = _state.config.root / ".cache"
    uri = f"{RUNS}/{_run_name(run)}.ipynb"
    sync_snippet_notebook(run, cache / uri, _stamps())
    _state.run_pages[uri] = run.snippet.path
    # A plain File (not File.generated): mkdocs-jupyter's wrapper needs a real source path.
    files.append(File(uri, str(cache), config.site_dir, config.use_directory_urls))


def _stamps() -> NotebookStamps:
    return NotebookStamps(_state.config.root / ".cache" / STAMPS)


def _run_name(run: SnippetRun) -> str:
    return run.folder.relative_to(_state.config.results_dir).as_posix().replace("/", "-")


def _asset_uri(folder: Path, name: str) -> str:
    """Where a result file is published in the site."""
    return f"{ASSETS}/{folder.relative_to(_state.config.results_dir).as_posix()}/{name}"


def _notebook_uri(post: Path) -> str:
    return f"{NOTEBOOKS}/{post.stem}.ipynb"


def _source_url(post: Path, config: MkDocsConfig) -> str | None:
    branch = config.extra.get("repo_branch", "main")
    relative = post.relative_to(_state.config.root).as_posix()
    return f"{config.repo_url.rstrip('/')}/blob/{branch}/{relative}" if config.repo_url else None


def _refuse_links_out(files: Files, posts: list[Path]) -> set[Path]:
    """Project files (and posts) that are symlinks out of the project (say docs/x.txt ->
    /etc/passwd) would be copied into the site: the build fails naming every one; `serve`
    leaves them out, says so, and returns them."""
    sources = [Path(file.abs_src_path) for file in files if file.abs_src_path] + posts
    linked = {path for path in sources if _state.config.leaves_project(path)}
    if not linked:
        return linked
    root = _state.config.root
    message = "\n".join(
        visible(
            f"{Path(os.path.abspath(path)).relative_to(root).as_posix()}: a symlink to a file "
            "outside the project; it is not published"
        )
        for path in sorted(linked)
    )
    if not _state.serving:
        raise PluginError(message)
    serve_log.error(message)
    for file in list(files):
        if file.abs_src_path and Path(file.abs_src_path) in linked:
            files.remove(file)
    return linked


def _report_errors(report: BuildReport) -> None:
    summary = report.error_summary(_state.config.relative, serving=_state.serving)
    if _state.serving:
        serve_log.error(summary)
        return
    raise PluginError(summary)


def _blog_would_reject(post: Path, report: BuildReport, config: MkDocsConfig) -> EngineError | None:
    """Under serve: what would make the blog plugin fail the rebuild (a post that cannot be
    read, bad YAML, bad dates or types, unknown author or category), if anything."""
    document = report.posts.get(post)
    if document is None:  # the engine could not read or parse it: its error says why
        located = (e for e in report.errors if e.location and e.location.path == post)
        return next(located, EngineError("the post cannot be read", Location(post)))
    meta = document.meta
    if not meta:
        return AuthoringError(
            "a post needs front matter with at least a `date:`", Location(post, 1)
        )
    blog = next((p for name, p in config.plugins.items() if name.endswith("blog")), None)
    if blog is None:
        return None
    from material.plugins.blog.structure.config import PostConfig

    post_config = PostConfig(str(post))
    post_config.load_dict({key: meta[key] for key in set(meta) & set(post_config.keys())})
    errors, _ = post_config.validate()
    problems = [f"`{key}`: {error}" for key, error in errors]
    if blog.config.authors:
        known = getattr(blog, "authors", {}) or {}
        problems += [f"unknown author {a!r}" for a in post_config.authors if a not in known]
    allowed = blog.config.categories_allowed
    problems += [
        f"category {c!r} is not in categories_allowed"
        for c in post_config.categories
        if allowed and c not in allowed
    ]
    if not problems:
        return None
    return AuthoringError("front matter: " + "; ".join(problems), Location(post, 1))


def _stand_in(post: Path, problem: EngineError, config: MkDocsConfig) -> File:
    """A valid post at the same path that shows why the real one cannot be built."""
    relative = _state.config.relative(post)
    content = (
        f"---\ndate: {date.today().isoformat()}\nslug: {post.stem}\n---\n\n"
        f"# {html.escape(post.stem)}\n\n<!-- more -->\n\n"
        f"{error_html(f'{relative} cannot be built', str(problem))}\n"
    )
    folder = _state.config.root / ".cache" / "serve"
    target = folder / post.relative_to(_state.config.root)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    uri = post.relative_to(_state.config.root).as_posix()
    return File(uri, str(folder), config.site_dir, config.use_directory_urls)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    source = Path(page.file.abs_src_path or "")
    if not source.is_relative_to(_state.config.posts_dir):
        return markdown
    try:
        return _expand(markdown, source, page, config)
    except Exception as error:  # under serve a bug shows in the page; a build still fails
        if not _state.serving:
            raise
        serve_log.error(visible(f"{source}: cannot be rendered: {error}"))
        detail = traceback.format_exc()
        return f"{error_html(f'{_state.config.relative(source)} cannot be rendered', detail)}\n"


def _expand(markdown: str, source: Path, page: Page, config: MkDocsConfig) -> str:
    """The post's Markdown with embeds, placeholders and notebook buttons expanded."""

    def run_page(run: SnippetRun) -> str | None:
        return get_relative_url(f"{RUNS}/{_run_name(run)}/", page.url)

    links = Links(
        asset=lambda folder, name: get_relative_url(_asset_uri(folder, name), page.url),
        run_page=run_page,
    )
    document = _state.report.posts.get(source)
    body_start = document.body_start if document else 1
    rendered = render_page(markdown, source, _state.report, links, body_start)
    _state.pages[page.file.src_uri] = rendered
    return _with_notebook_buttons(rendered.markdown, source, page, config)


def _with_notebook_buttons(markdown: str, post: Path, page: Page, config: MkDocsConfig) -> str:
    """The download and Colab buttons go right after the excerpt marker (not in the index)."""
    if post not in _state.notebooks or MORE not in markdown:
        return markdown
    download = get_relative_url(_notebook_uri(post), page.file.src_uri)  # MkDocs resolves it
    branch = config.extra.get("repo_branch", "main")
    colab = colab_url(config.repo_url, branch, f"{NOTEBOOKS}/{post.stem}.ipynb")
    return markdown.replace(MORE, f"{MORE}\n\n{notebook_buttons(download, colab)}\n", 1)


@event_priority(-100)  # last: the blog and RSS plugins have read the whole post by now
def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    rendered = _state.pages.pop(page.file.src_uri, None)
    if rendered is None:
        return html
    # The blog plugin renders a post's whole Markdown again for each list that shows its
    # excerpt, and keeps only what is above the marker: give it only that (and a stand-in
    # below, so it still links "Continue reading"), not every code block of the post.
    page.markdown = _excerpt_only(page.markdown)
    return rendered.insert_fragments(html)


def _excerpt_only(markdown: str) -> str:
    above, marker, _ = markdown.partition(MORE)
    return f"{above}{marker}\n\n&hellip;\n" if marker else markdown


@event_priority(-110)  # after hooks/notebook_pages.py has put the run page's content in
def on_page_context(context: dict, page: Page, config: MkDocsConfig, nav) -> dict:
    snippet = _state.run_pages.get(page.file.src_uri)
    if snippet is not None and page.content:
        page.content = _back_links(snippet, page) + page.content
    return context


def _back_links(snippet: Path, page: Page) -> str:
    """'Shown in <post>': links from a snippet's run page to each post that embeds it."""
    links = []
    for post, references in sorted(_state.report.posts.items()):
        if not any(embed.snippet.resolve() == snippet.resolve() for embed in references.embeds):
            continue
        file = _state.files.get_file_from_path(post.relative_to(_state.config.root).as_posix())
        target = file.page if file is not None else None
        if target is None:
            continue
        title = html.escape(target.title or post.stem)
        links.append(f'<a href="{html.escape(get_relative_url(target.url, page.url))}">{title}</a>')
    if not links:
        return ""
    return f'<p class="dlexec-back">Shown in {", ".join(links)}.</p>\n'
