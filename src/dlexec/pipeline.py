"""Decide what runs (BLOG_EXECUTE), run it, and report: the engine's one entry point for builds."""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from filelock import FileLock, Timeout

from . import capture
from .cache_key import KeyInputs, key_inputs
from .config import EngineConfig, Mode
from .datasets import fetch
from .errors import AuthoringError, EngineError, Location, SnippetFailedError, StaleResultError
from .execute import Execution, run_snippet
from .plots import curve_files
from .posts import PostReferences, find_references, snippet_for_placeholder
from .progress import Progress, Silent
from .results import (
    CellResult,
    CorruptResult,
    Result,
    copy_result,
    load_result,
    save_result,
)
from .sandbox import Sandbox, choose
from .snippets import Snippet, load_snippet
from .values import format_value

CELL_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")
URL_FETCH_FAILURE = re.compile(r"URL fetch failure on (\S+):\s")
FIRST_SNIPPET_EXECUTION_COUNT = 2  # the hidden setup cell is In[1]


@dataclass(frozen=True)
class SnippetRun:
    """What this build did for one snippet: 'executed', 'reused' or 'failed'."""

    snippet: Snippet
    status: str
    folder: Path
    result: Result | None = None
    error: EngineError | None = None
    seconds: float = 0.0


@dataclass
class BuildReport:
    """Outcome of preparing a set of posts: snippet runs, references and every error found."""

    runs: dict[Path, SnippetRun] = field(default_factory=dict)
    posts: dict[Path, PostReferences] = field(default_factory=dict)
    errors: list[EngineError] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(run.status == status for run in self.runs.values())

    def summary_line(self) -> str:
        return (
            f"snippets: {self.count('executed')} executed, {self.count('reused')} reused, "
            f"{self.count('failed')} failed in {self.seconds:.1f} s"
        )

    def error_texts(self) -> list[str]:
        """Each error as it is shown to the author: location, message, then any traceback."""
        return [f"{e}\n{getattr(e, 'traceback', '')}".rstrip() for e in self.errors]

    def timing_lines(self) -> list[str]:
        """Snippets that ran in this build, slowest first."""
        ran = [run for run in self.runs.values() if run.status != "reused"]
        return [
            f"{run.seconds:7.1f} s  {run.snippet.path.name} ({run.status})"
            for run in sorted(ran, key=lambda run: run.seconds, reverse=True)
        ]

    def snippet_named(self, name: str) -> SnippetRun | None:
        return next((run for run in self.runs.values() if run.snippet.name == name), None)


class Engine:
    """Prepares the results that a set of posts needs, honouring the configured mode."""

    def __init__(
        self,
        config: EngineConfig,
        log: Callable[[str], None] = print,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.log = log
        self.progress = progress or Silent()
        self.post_timeouts: dict[Path, float] = {}  # snippet -> longest limit its posts allow

    @cached_property
    def sandbox(self) -> Sandbox | None:
        """Chosen at the first execution: a build that reuses everything needs no bwrap."""
        return choose(log=self.log)

    def prepare(self, posts: Iterable[Path]) -> BuildReport:
        """Find references in `posts`, make sure every referenced snippet has a fresh result."""
        started = time.monotonic()
        report = BuildReport()
        snippets = self._collect(sorted(posts), report)
        self.progress.start(len(snippets))
        try:
            with terminate_as_interrupt():
                for path, referrer in snippets.items():
                    self.progress.snippet(self.config.relative(path), referrer)
                    snippet = self._load(path, report, referrer)
                    report.runs[path] = self.ensure(snippet, referrer, report)
                    self.progress.advance()
        finally:
            self.progress.close()
        report.runs = {path: run for path, run in report.runs.items() if run is not None}
        self._check_placeholders(report)
        report.seconds = time.monotonic() - started
        return report

    def ensure(
        self, snippet: Snippet | None, referrer: Location, report: BuildReport
    ) -> SnippetRun | None:
        """Reuse or execute one snippet; record failures in `report` instead of raising."""
        if snippet is None:
            return None
        try:
            run = self._ensure(snippet)
        except EngineError as error:
            run = SnippetRun(snippet, "failed", self.result_folder(snippet), error=error)
        if run.error is not None:
            where = Location(self.config.relative(referrer.path), referrer.line)
            report.errors.append(_with_referrer(run.error, where))
        return run

    def result_folder(self, snippet: Snippet) -> Path:
        """`results/<snippet path inside snippets/, without .py>/`."""
        return self.config.results_dir / snippet.path.relative_to(
            self.config.snippets_dir.resolve()
        ).with_suffix("")

    def _ensure(self, snippet: Snippet) -> SnippetRun:
        folder = self.result_folder(snippet)
        stored, problem = self._stored(folder)
        recorded = stored.inputs.get("data") if stored else None
        inputs = key_inputs(snippet, self.config.keras_home, self.config.data_mirror, recorded)
        fresh = stored is not None and stored.key == inputs.key
        mode = self.config.mode
        if mode is Mode.NEVER and not fresh:
            reason = problem or (
                "is missing" if stored is None else "is stale (its cache key changed)"
            )
            raise StaleResultError(
                f"the committed result {reason}; BLOG_EXECUTE=never runs nothing: "
                "build once with BLOG_EXECUTE=auto and commit results/",
                Location(self.config.relative(snippet.path)),
            )
        if (fresh and mode is Mode.AUTO) or mode is Mode.NEVER:
            return SnippetRun(snippet, "reused", folder, result=stored)
        if stored is not None:
            self._remember(folder, stored.key)
        if mode is Mode.AUTO:
            restored = copy_result(self.config.local_results / inputs.key, folder)
            if restored is not None:  # e.g. a reverted edit: this exact key ran before
                return SnippetRun(snippet, "reused", folder, result=restored)
        return self.execute(snippet, inputs, folder)

    def _remember(self, folder: Path, key: str) -> None:
        """Keep a copy of a result in the local (git-ignored) cache, indexed by its key."""
        if not (self.config.local_results / key / "result.json").exists():
            copy_result(folder, self.config.local_results / key)

    def _stored(self, folder: Path) -> tuple[Result | None, str | None]:
        try:
            return load_result(folder), None
        except CorruptResult as error:
            self.log(f"result is corrupted, treating it as stale: {error}")
            return None, f"is corrupted ({error})"

    def execute(self, snippet: Snippet, inputs: KeyInputs, folder: Path) -> SnippetRun:
        """Run `snippet` in a fresh kernel and store its result (only when it succeeded)."""
        relative = self.config.relative(snippet.path)
        timeout = self.timeout(snippet)
        started = time.monotonic()
        with self._lock(relative):
            stored, _ = self._stored(folder)
            if stored is not None and stored.key == inputs.key and self.config.mode is Mode.AUTO:
                return SnippetRun(snippet, "reused", folder, result=stored)  # another build ran it
            self.log(f"executing {relative} (limit {timeout:g} s)")
            data = fetch(
                snippet.header.data, self.config.keras_home, self.config.data_mirror, relative
            )
            execution = run_snippet(snippet, data, timeout, self.progress.output, self.sandbox)
            result, files = build_result(snippet, relative, inputs, execution)
            if execution.failure is None:
                result = save_result(folder, result, files)
                self._remember(folder, result.key)
        seconds = time.monotonic() - started
        if execution.failure is not None:
            error = failure_error(snippet, relative, execution)
            return SnippetRun(
                snippet, "failed", folder, result=result, error=error, seconds=seconds
            )
        return SnippetRun(snippet, "executed", folder, result=result, seconds=seconds)

    def timeout(self, snippet: Snippet) -> float:
        """The snippet header's limit, else the longest its posts allow, else the default."""
        return snippet.header.timeout or self.post_timeouts.get(snippet.path) or self.config.timeout

    @contextmanager
    def _lock(self, relative: Path) -> Iterator[None]:
        """One build at a time executes a given snippet; others wait, and say so."""
        name = relative.as_posix().replace("/", "__")
        lock = FileLock(self.config.root / ".cache" / "locks" / f"{name}.lock")
        Path(lock.lock_file).parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            self.log(f"waiting: another build is executing {relative} (lock {lock.lock_file})")
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def _collect(self, posts: list[Path], report: BuildReport) -> dict[Path, Location]:
        """Snippet path -> first place that references it; authoring errors go to the report."""
        snippets: dict[Path, Location] = {}
        for post in posts:
            try:
                references = find_references(post, self.config.snippets_dir)
            except AuthoringError as error:
                report.errors.append(error)
                continue
            report.posts[post] = references
            for embed in references.embeds:
                snippets.setdefault(embed.snippet, embed.location)
                if references.timeout:
                    limit = max(references.timeout, self.post_timeouts.get(embed.snippet, 0))
                    self.post_timeouts[embed.snippet] = limit
            for placeholder in references.placeholders:
                try:
                    path = snippet_for_placeholder(
                        placeholder.snippet, self.config.snippets_dir, placeholder.location
                    )
                except AuthoringError as error:
                    message = f"placeholder {placeholder.text}: {error.message}"
                    report.errors.append(AuthoringError(message, error.location))
                    continue
                snippets.setdefault(path, placeholder.location)
        return snippets

    def _load(self, path: Path, report: BuildReport, referrer: Location) -> Snippet | None:
        try:
            snippet = load_snippet(path)
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
                run = report.snippet_named(placeholder.snippet)
                if run is None or run.result is None or run.status == "failed":
                    continue  # the snippet's own error is already reported
                try:
                    format_value(run.result.values, placeholder)
                except AuthoringError as error:
                    report.errors.append(error)


def build_result(
    snippet: Snippet, relative: Path, inputs: KeyInputs, execution: Execution
) -> tuple[Result, dict[str, bytes]]:
    """Capture outputs, draw training curves, and assemble the result record."""
    files: dict[str, bytes] = {}
    cells = []
    budget = capture.FileBudget()  # one per snippet: figures are bounded across its cells
    for cell, raw_outputs in zip(snippet.cells, execution.cell_outputs, strict=True):
        captured = capture.capture_cell(raw_outputs, budget)
        files.update(captured.files)
        outputs = [_with_curves(output, files) for output in captured.outputs]
        cells.append(CellResult(cell.index, cell.name, outputs))
    provenance = {
        **capture.provenance(execution.setup_outputs),
        "wall_time_s": round(execution.wall_time, 1),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    result = Result(
        snippet=relative.as_posix(),
        key=inputs.key,
        inputs=inputs.__dict__.copy(),
        provenance=provenance,
        cells=cells,
        values=capture.values(execution.teardown_outputs),
    )
    return result, files


def _with_curves(output: capture.Output, files: dict[str, bytes]) -> capture.Output:
    if not isinstance(output, capture.HistoryOutput) or not output.epochs:
        return output
    plots = {}
    for palette, (name, content) in curve_files(output).items():
        files[name] = content
        plots[palette] = name
    return capture.HistoryOutput(output.model, output.epochs, output.metrics, plots)


def failure_error(snippet: Snippet, relative: Path, execution: Execution) -> SnippetFailedError:
    """A SnippetFailedError located at the snippet line the traceback points to."""
    failure = execution.failure
    assert failure is not None
    if failure.kind == "setup":
        return SnippetFailedError(
            f"the engine's kernel setup failed: {failure.message}", Location(relative)
        )
    cell = snippet.cells[failure.cell]
    traceback = ""
    outputs = execution.cell_outputs[failure.cell]
    for output in capture.capture_cell(outputs).outputs:
        if isinstance(output, capture.ErrorOutput):
            traceback = output.traceback
    line = _traceback_line(snippet, traceback) or cell.first_line
    message = f"snippet failed: {failure.message}"
    download = URL_FETCH_FAILURE.search(traceback)
    if download:
        message += (
            f". It tried to download {download[1]}, but snippets run offline: declare the file "
            "in the snippet header (`data: [datasets/<name>]`) and put it in the data mirror "
            "(BLOG_DATA_MIRROR) so Keras finds it in KERAS_HOME"
        )
    return SnippetFailedError(message, Location(relative, line), traceback)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while snippets run, so kernels are shut down and no result is
    left half-written. Signal handlers can only be set from the main thread (not under serve,
    whose builds run in a worker thread; there the server handles its own shutdown)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _traceback_line(snippet: Snippet, traceback: str) -> int | None:
    """Map the innermost `Cell In[n], line k` frame of an IPython traceback to a file line."""
    frames = CELL_FRAME.findall(traceback)
    if not frames:
        return None
    count, line = (int(part) for part in frames[-1])
    index = count - FIRST_SNIPPET_EXECUTION_COUNT
    if not 0 <= index < len(snippet.cells):
        return None
    return snippet.cells[index].first_line + line - 1


def _with_referrer(error: EngineError, referrer: Location) -> EngineError:
    """Prefix the post location that uses the snippet, keeping the error's type and traceback."""
    error.message = f"{error.message} (used at {referrer})" if referrer else error.message
    return error
