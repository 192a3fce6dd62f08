"""MkDocs hook: wires MkDocs events to the dlexec engine, nothing more.

- on_files: add the top-level `posts/` to the site as blog posts (the blog plugin expects them
  under docs/), let the engine prepare every referenced snippet, print the summary line, and
  publish result figures. Under `mkdocs build` any error fails the build; under `mkdocs serve`
  the server keeps running and each page shows its errors in place.
- on_page_markdown / on_page_content: expand embeds and placeholders, then insert outputs.
- on_serve: watch posts/ and snippets/, which live outside docs/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.livereload import LiveReloadServer
from mkdocs.plugins import event_priority, get_plugin_logger
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

from dlexec.config import EngineConfig
from dlexec.pipeline import BuildReport, Engine
from dlexec.render import RenderedPage, render_page

log = get_plugin_logger("dlexec")
ASSETS = "assets/results"


@dataclass
class _State:
    """What one MkDocs process remembers between events (serve rebuilds reuse it)."""

    serving: bool = False
    config: EngineConfig | None = None
    report: BuildReport = field(default_factory=BuildReport)
    pages: dict[str, RenderedPage] = field(default_factory=dict)


_state = _State()


def on_startup(command: str, dirty: bool) -> None:
    _state.serving = command == "serve"


def on_config(config: MkDocsConfig) -> None:
    _state.config = EngineConfig.load(Path(config.config_file_path).parent)


def on_serve(server: LiveReloadServer, config: MkDocsConfig, builder: Callable) -> None:
    """Posts and snippets live outside docs/: watch them so edits rebuild the page."""
    for folder in (_state.config.posts_dir, _state.config.snippets_dir):
        server.watch(str(folder))


@event_priority(100)  # before the blog plugin collects posts
def on_files(files: Files, config: MkDocsConfig) -> Files:
    engine_config = _state.config
    posts = sorted(engine_config.posts_dir.glob("*.md"))
    for post in posts:
        uri = post.relative_to(engine_config.root).as_posix()
        files.append(File(uri, str(engine_config.root), config.site_dir, config.use_directory_urls))
    report = Engine(engine_config, log.info).prepare(posts)
    _state.report = report
    log.info(report.summary_line())
    if report.errors:
        _report_errors(report)
    for run in report.runs.values():
        if run.result is not None and run.status != "failed":
            for name in run.result.files:
                uri = _asset_uri(run.folder, name)
                files.append(File.generated(config, uri, abs_src_path=str(run.folder / name)))
    return files


def _asset_uri(folder: Path, name: str) -> str:
    """Where a result file is published in the site."""
    return f"{ASSETS}/{folder.relative_to(_state.config.results_dir).as_posix()}/{name}"


def _report_errors(report: BuildReport) -> None:
    details = "\n\n".join(
        f"{error}\n{getattr(error, 'traceback', '')}".rstrip() for error in report.errors
    )
    if _state.serving:
        log.error(f"{len(report.errors)} snippet error(s), shown in the pages:\n{details}")
        return
    raise PluginError(f"{len(report.errors)} snippet error(s):\n{details}")


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    source = Path(page.file.abs_src_path or "")
    if not source.is_relative_to(_state.config.posts_dir):
        return markdown

    def asset_url(folder: Path, name: str) -> str:
        return get_relative_url(_asset_uri(folder, name), page.url)

    rendered = render_page(markdown, source, _state.report, asset_url)
    _state.pages[page.file.src_uri] = rendered
    return rendered.markdown


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    rendered = _state.pages.pop(page.file.src_uri, None)
    return rendered.insert_fragments(html) if rendered else html
