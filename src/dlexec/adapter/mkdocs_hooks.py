"""The MkDocs adapter: maps MkDocs events to engine calls, keeping its state on one object.

`hooks/executed_snippets.py` makes one `ExecutedSnippets` per MkDocs process and hands each
event to it. What the events do:

- on_files: add the top-level `posts/` to the site as blog posts (the blog plugin expects them
  under docs/), let the engine prepare every referenced snippet, print the summary line, sync
  the posts' notebooks, and publish result figures and notebooks. Under `mkdocs build` any
  error fails the build; under `mkdocs serve` the server keeps running and each page shows its
  errors in place. Serve must never abort a rebuild (MkDocs then stops answering until a build
  succeeds), so there errors are logged outside MkDocs' strict-mode counter, and a post whose
  front matter the blog plugin would reject is replaced by a stand-in page showing the error.
- on_page_markdown / on_page_content: expand embeds and placeholders, then insert outputs.
- on_page_context: a run page (a snippet's full run) links back to the posts that show it.
- on_serve: watch posts/ and snippets/, which live outside docs/, and stand in for MkDocs'
  builder: a save that changed only posts' prose re-renders those posts and what lists them
  (`serving`, `quick_rebuild`); on_nav, on_env and on_post_build keep what that needs.

Everything else is the engine's: page content (`present`), front-matter data, the build.
"""

from __future__ import annotations

import logging
import traceback
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from mkdocs.exceptions import PluginError
from mkdocs.plugins import get_plugin_logger
from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url

from ..build.engine import Engine
from ..build.report import BuildReport, SnippetRun
from ..config import EngineConfig, Mode
from ..errors import EngineError, Location, visible
from ..present.bands import BANDS, band_of, run_assets
from ..present.notebooks import (
    NotebookStamps,
    colab_url,
    page_urls,
    sync_post_notebooks,
    sync_snippet_notebook,
)
from ..present.outputs_html import Links, error_html
from ..present.page import RenderedPage, notebook_buttons, render_page
from ..present.site_pages import (
    back_links_html,
    blob_url,
    excerpt_only,
    posts_showing,
    with_notebook_buttons,
)
from ..progress import Bar
from ..tools.scaffold import description_warnings
from .serving import (
    Serving,
    blog_would_reject,
    refuse_links_out,
    serve_log,
    stand_in,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import jinja2
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.livereload import LiveReloadServer
    from mkdocs.structure.nav import Navigation
    from mkdocs.structure.pages import Page

log = get_plugin_logger("dlexec")
ASSETS = "assets/results"
RUNS = "runs"  # companion pages: each snippet's executed notebook, rendered by mkdocs-jupyter
NOTEBOOKS = "notebooks"
STAMPS = "notebook-stamps"  # under .cache/: which notebooks hold what their inputs make


class ExecutedSnippets:
    """What one MkDocs process remembers between events (serve rebuilds reuse it)."""

    def __init__(self) -> None:
        self.serving = False
        self.config: EngineConfig | None = None
        self.report = BuildReport()
        self.notebooks: dict[Path, Path] = {}
        self.pages: dict[str, RenderedPage] = {}
        self.files: Files | None = None
        self.run_pages: dict[str, Path] = {}  # run page src_uri -> snippet
        self.notebook_uri = notebook_uri  # where a post's notebook is published
        self.serve = Serving(self)  # what only `mkdocs serve` uses

    # -- events ------------------------------------------------------------------------------

    def on_startup(self, command: str, dirty: bool) -> None:
        self.serving = command == "serve"

    def on_config(self, config: MkDocsConfig) -> None:
        if self.serving:
            self.serve.build_starts(config)
        try:
            self.config = EngineConfig.load(Path(config.config_file_path).parent)
        except EngineError as error:  # a bad BLOG_* or [tool.dlexec]: one line, no traceback
            raise PluginError(str(error)) from None

    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        posts = sorted(self.config.posts_dir.glob("*.md"))
        linked = refuse_links_out(self.config, self.serving, files, posts)
        posts = [post for post in posts if post not in linked]
        self.report = report = self._prepare(posts)
        problems = {post: blog_would_reject(report, post, config) for post in posts}
        for post, problem in problems.items():  # each read and parsed once, by the engine
            if problem is None or not self.serving:  # a build reports it with the others
                files.append(self._project_file(post, config))
            else:
                files.append(stand_in(self.config, post, problem, config))
        report.errors += [p for p in problems.values() if p and p not in report.errors]
        log.info(report.summary_line())
        for warning in description_warnings(report.posts.values(), self.config.root):
            (serve_log if self.serving else log).warning(warning)  # --strict fails CI on it
        if report.count("executed") or report.count("failed"):
            log.info("time per snippet, slowest first:\n" + "\n".join(report.timing_lines()))
        self._sync_notebooks(files, config)
        self.run_pages = {}
        for run in report.runs.values():
            if run.result is not None and run.status != "failed":
                self._publish_run(run, files, config)
        self.files = files
        return files

    def on_serve(self, server: LiveReloadServer, builder: Callable) -> None:
        """Posts and snippets live outside docs/: watch them; and rebuild quickly what can be."""
        self.serve.start(server, builder)

    def on_nav(self, nav: Navigation, config: MkDocsConfig, files: Files) -> None:
        self.serve.keep(config=config, files=files, nav=nav)

    def on_env(self, env: jinja2.Environment) -> None:
        self.serve.keep(env=env)

    def on_post_build(self) -> None:
        if self.serving:
            self.serve.build_finished()

    def on_page_markdown(self, markdown: str, page: Page, config: MkDocsConfig) -> str:
        source = Path(page.file.abs_src_path or "")
        if not source.is_relative_to(self.config.posts_dir):
            return markdown
        try:
            return self._expand(source, page, config)
        except Exception as error:  # under serve a bug shows in the page; a build still fails
            if not self.serving:
                raise
            serve_log.error(visible(f"{source}: cannot be rendered: {error}"))
            detail = traceback.format_exc()
            shown = self.config.relative(source)
            return f"{error_html(f'{shown} cannot be rendered', detail)}\n"

    def on_page_content(self, html: str, page: Page) -> str:
        rendered = self.pages.pop(page.file.src_uri, None)
        if rendered is None:
            return html
        # The blog plugin renders a post's whole Markdown again for each list that shows its
        # excerpt, and keeps only what is above the marker: give it only that.
        page.markdown = excerpt_only(page.markdown)
        return rendered.insert_fragments(html)

    def on_page_context(self, context: dict, page: Page) -> dict:
        snippet = self.run_pages.get(page.file.src_uri)
        if snippet is not None and page.content:
            page.content = self._back_links(snippet, page) + page.content
        return context

    # -- what the events do ------------------------------------------------------------------

    def _prepare(self, posts: list[Path]) -> BuildReport:
        try:
            # Log lines go above the progress lines (tqdm redraws them), not through them.
            bar = Bar(loggers=[logging.getLogger("mkdocs")], log=log.info)
            return Engine(self.config, log.info, bar).prepare(posts)
        except Exception as error:  # an engine bug must not stop the server either
            if not self.serving:
                raise
            serve_log.error(visible(f"the engine failed: {error}"))
            return BuildReport(errors=[EngineError(traceback.format_exc().rstrip())])

    def _sync_notebooks(self, files: Files, config: MkDocsConfig) -> None:
        self.notebooks, stale = self.post_notebooks(self.report, config)
        self.report.errors += stale
        if self.report.errors:
            self.report_errors(self.report)
        for post, notebook in self.notebooks.items():
            files.append(File.generated(config, notebook_uri(post), abs_src_path=str(notebook)))

    def post_notebooks(
        self, report: BuildReport, config: MkDocsConfig
    ) -> tuple[dict[Path, Path], list[EngineError]]:
        """Each post's notebook made to match the post and its results (`sync_post_notebooks`)."""
        return sync_post_notebooks(
            report,
            self.config.notebooks_dir,
            self.config.mode is not Mode.NEVER,
            lambda post: self._source_url(post, config),
            self._stamps(),
            page_urls(report, self.config.root),
        )

    def report_errors(self, report: BuildReport) -> None:
        summary = report.error_summary(self.config.relative, serving=self.serving)
        if self.serving:
            serve_log.error(summary)
            return
        raise PluginError(summary)

    def _project_file(self, path: Path, config: MkDocsConfig) -> File:
        """A file of the project (outside docs/) at its path relative to the project root."""
        uri = path.relative_to(self.config.root).as_posix()
        return File(uri, str(self.config.root), config.site_dir, config.use_directory_urls)

    def _publish_run(self, run: SnippetRun, files: Files, config: MkDocsConfig) -> None:
        """Result figures as site assets, and the run's notebook as a companion page."""
        cache = self.config.root / ".cache"
        for path in run_assets(self.report, run, cache / BANDS):
            uri = self._asset_uri(run.folder, path.name)
            files.append(File.generated(config, uri, abs_src_path=str(path)))
        uri = f"{RUNS}/{self._run_name(run)}.ipynb"
        sync_snippet_notebook(run, cache / uri, self._stamps())
        self.run_pages[uri] = run.snippet.path
        # A plain File (not File.generated): mkdocs-jupyter's wrapper needs a real source path.
        files.append(File(uri, str(cache), config.site_dir, config.use_directory_urls))

    def _stamps(self) -> NotebookStamps:
        return NotebookStamps(self.config.root / ".cache" / STAMPS)

    def _run_name(self, run: SnippetRun) -> str:
        return run.folder.relative_to(self.config.results_dir).as_posix().replace("/", "-")

    def _asset_uri(self, folder: Path, name: str) -> str:
        """Where a result file is published in the site."""
        return f"{ASSETS}/{folder.relative_to(self.config.results_dir).as_posix()}/{name}"

    def _source_url(self, post: Path, config: MkDocsConfig) -> str | None:
        branch = config.extra.get("repo_branch", "main")
        return blob_url(config.repo_url, branch, post.relative_to(self.config.root).as_posix())

    def _expand(self, source: Path, page: Page, config: MkDocsConfig) -> str:
        """The post's Markdown with embeds, placeholders and notebook buttons expanded."""

        def run_page(run: SnippetRun) -> str | None:
            return get_relative_url(f"{RUNS}/{self._run_name(run)}/", page.url)

        links = Links(
            band=partial(band_of, self.report),
            asset=lambda folder, name: get_relative_url(self._asset_uri(folder, name), page.url),
            run_page=run_page,
        )
        document = self.report.posts.get(source)
        if document is None:  # a post the engine could not parse is a stand-in under serve
            raise EngineError("the post was not parsed by this build", Location(source))
        rendered = render_page(document, self.report, links)
        self.pages[page.file.src_uri] = rendered
        if source not in self.notebooks:
            return rendered.markdown
        download = get_relative_url(notebook_uri(source), page.file.src_uri)  # MkDocs resolves
        branch = config.extra.get("repo_branch", "main")
        colab = colab_url(config.repo_url, branch, f"{NOTEBOOKS}/{source.stem}.ipynb")
        return with_notebook_buttons(rendered.markdown, notebook_buttons(download, colab))

    def _back_links(self, snippet: Path, page: Page) -> str:
        """'Shown in <post>': links from a snippet's run page to each post that embeds it."""
        links = []
        for post in posts_showing(self.report, snippet):
            uri = post.relative_to(self.config.root).as_posix()
            file = self.files.get_file_from_path(uri)
            target = file.page if file is not None else None
            if target is not None:
                links.append((target.title or post.stem, get_relative_url(target.url, page.url)))
        return back_links_html(links)


def notebook_uri(post: Path) -> str:
    return f"{NOTEBOOKS}/{post.stem}.ipynb"
