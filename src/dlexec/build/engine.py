"""The engine's one entry point for builds: read the posts, decide what runs (BLOG_EXECUTE),
run it, and report. Freshness and storage are `freshness`; running is `scheduling`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import EngineConfig
from ..errors import AuthoringError, EngineError, Location, visible
from ..progress import Progress, Silent
from ..sources.posts import PostDocument, read_document, snippet_for_placeholder, snippet_timeouts
from ..sources.snippets import Snippet, load_snippet
from ..sources.values import format_value
from .freshness import Freshness, Pending
from .report import BuildReport, SnippetRun, failing_cell
from .scheduling import Scheduler, terminate_as_interrupt
from .shards import Shard, committed_seconds

if TYPE_CHECKING:
    from ..run.base import Job, Outcome


class Engine:
    """Prepares the results that a set of posts needs, honouring the configured mode: reads
    the posts, decides per snippet (`Freshness`), runs what must run (`Scheduler`), and
    reports every run and error in a BuildReport."""

    def __init__(
        self,
        config: EngineConfig,
        log: Callable[[str], None] = print,
        progress: Progress | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        # Every line the engine logs may name a contributor's file or quote a snippet.
        self.log: Callable[[str], None] = lambda message: log(visible(message))
        self.progress = progress or Silent()
        self.freshness = Freshness(config, self.log)
        self.scheduler = Scheduler(
            config, self.log, self.progress, environ, self.freshness, self._record
        )

    @property
    def post_timeouts(self) -> dict[Path, float]:
        """Snippet -> the longest `snippet_timeout:` of the posts that embed it."""
        return self.scheduler.post_timeouts

    @post_timeouts.setter
    def post_timeouts(self, limits: dict[Path, float]) -> None:
        self.scheduler.post_timeouts = limits

    def submit(self, job: Job, referrer: Location, label: str) -> Future[Outcome]:
        return self.scheduler.submit(job, referrer, label)

    def timeout(self, snippet: Snippet) -> float:
        return self.scheduler.timeout(snippet)

    def run_order(self, snippet: Snippet, last_seconds: float | None) -> tuple[Any, ...]:
        return self.scheduler.run_order(snippet, last_seconds)

    def result_folder(self, snippet: Snippet) -> Path:
        return self.freshness.result_folder(snippet)

    def close(self) -> None:
        """Let the executor go (its threads, or the Ray connection it opened)."""
        self.scheduler.close()

    def prepare(self, posts: Iterable[Path], shard: Shard | None = None) -> BuildReport:
        """Find references in `posts`, make sure every referenced snippet has a fresh result.
        With `shard`, execute only that share of the stale snippets (the rest: 'skipped')."""
        started = time.monotonic()
        report = BuildReport(
            backends=self.config.backends, checked=self.freshness.checked, root=self.config.root
        )
        snippets = self._collect(sorted(posts), report)
        self.post_timeouts = snippet_timeouts(report.posts.values())
        self.progress.start(len(snippets))
        try:
            with terminate_as_interrupt():
                pending = []
                for path, referrer in snippets.items():
                    planned = self._plan(self._load(path, report, referrer), referrer, report)
                    if isinstance(planned, Pending):
                        pending.append(planned)
                    else:
                        self.progress.advance()
                if shard is not None:
                    pending = self._share(pending, shard, snippets, report)
                self.scheduler.execute_all(pending, report)
        finally:
            self.progress.close()
            self.close()
        self._check_placeholders(report)
        report.seconds = time.monotonic() - started
        return report

    def ensure(
        self, snippet: Snippet | None, referrer: Location, report: BuildReport
    ) -> SnippetRun | None:
        """Reuse or execute one snippet; record failures in `report` instead of raising."""
        planned = self._plan(snippet, referrer, report)
        if isinstance(planned, Pending):
            self.scheduler.execute_all([planned], report)
            return report.runs.get(planned.snippet.path)
        return planned

    def _plan(
        self, snippet: Snippet | None, referrer: Location, report: BuildReport
    ) -> SnippetRun | Pending | None:
        """Reuse the snippet's result (a SnippetRun), or say it must run (Pending)."""
        if snippet is None:
            return None
        try:
            planned = self.freshness.decide(snippet, referrer)
        except EngineError as error:
            planned = SnippetRun(snippet, "failed", self.result_folder(snippet), error=error)
        if isinstance(planned, SnippetRun):
            self._record(planned, referrer, report)
        return planned

    def _share(
        self, pending: list[Pending], shard: Shard, snippets: Iterable[Path], report: BuildReport
    ) -> list[Pending]:
        """This shard's runs; the others are recorded as 'skipped'."""
        result_files = {  # each snippet (relative to the project) -> its result.json
            self.config.relative(path): self.config.relative(
                self.freshness.folder_of(path) / "result.json"
            )
            for path in snippets
        }
        members = shard.members(result_files, committed_seconds(self.config.root, result_files))
        mine = [item for item in pending if self.config.relative(item.snippet.path) in members]
        for item in pending:
            if item not in mine:
                self._record(SnippetRun(item.snippet, "skipped", item.folder), None, report)
                self.progress.advance()
        return mine

    def _record(self, run: SnippetRun, referrer: Location | None, report: BuildReport) -> None:
        report.runs[run.snippet.path] = run
        if run.error is not None and referrer is not None:
            cell = failing_cell(run.snippet, run.error)
            shown = referrer_for(run.snippet.path, cell, report.posts.values(), referrer)
            where = Location(self.config.relative(shown.path), shown.line)
            report.errors.append(_with_referrer(run.error, where))

    def _collect(self, posts: list[Path], report: BuildReport) -> dict[Path, Location]:
        """Snippet path -> first place that references it; authoring errors go to the report."""
        snippets: dict[Path, Location] = {}
        named: dict[str, Path] = {}  # a placeholder's snippet name -> its file, found once
        for post in posts:
            try:
                references = read_document(post, self.config.snippets_dir)
            except AuthoringError as error:
                report.errors.append(error)
                continue
            report.posts[post] = references
            for embed in references.embeds:
                snippets.setdefault(embed.snippet, embed.location)
            for placeholder in references.placeholders:
                for name in placeholder.snippets:
                    try:
                        path = named.get(name) or snippet_for_placeholder(
                            name, self.config.snippets_dir, placeholder.location
                        )
                    except AuthoringError as error:
                        message = f"placeholder {placeholder.text}: {error.message}"
                        report.errors.append(AuthoringError(message, error.location))
                        continue
                    named[name] = path
                    snippets.setdefault(path, placeholder.location)
        return snippets

    def _load(self, path: Path, report: BuildReport, referrer: Location) -> Snippet | None:
        try:
            snippet = load_snippet(path, self.config.root / ".cache" / "snippets")
        except AuthoringError as error:
            report.errors.append(error)
            return None
        for references in report.posts.values():
            for embed in references.embeds:
                if embed.snippet == path and embed.cell and snippet.cell(embed.cell) is None:
                    names = ", ".join(c.name for c in snippet.cells if c.name) or "none"
                    report.errors.append(
                        AuthoringError(
                            f"snippet {path.name} has no cell named {embed.cell!r} "
                            f"(its cells: {names})",
                            embed.location,
                        )
                    )
        return snippet

    def _check_placeholders(self, report: BuildReport) -> None:
        for references in report.posts.values():
            for placeholder in references.placeholders:
                runs = [report.snippet_named(name) for name in placeholder.snippets]
                if any(r is None or r.result is None or r.status == "failed" for r in runs):
                    continue  # the snippet's own error is already reported
                try:
                    format_value(runs[0].result.values, placeholder, runs[-1].result.values)
                except AuthoringError as error:
                    report.errors.append(error)


def referrer_for(
    snippet: Path, cell: str | None, posts: Iterable[PostDocument], first: Location
) -> Location:
    """Where to say a snippet's error is used: the first embed that shows `cell`, else the
    first that shows the whole snippet, else `first` (where the snippet is first referenced)."""
    embeds = [e for refs in posts for e in refs.embeds if e.snippet == snippet]
    own = [e for e in embeds if cell is not None and e.cell == cell]
    whole = [e for e in embeds if e.cell is None]
    return (own or whole)[0].location if own or whole else first


def _with_referrer(error: EngineError, referrer: Location) -> EngineError:
    """Prefix the post location that uses the snippet, keeping the error's type and traceback."""
    error.message = f"{error.message} (used at {referrer})" if referrer else error.message
    return error
