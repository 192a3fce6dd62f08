"""Decide what runs (BLOG_EXECUTE), run it, and report: the engine's one entry point for builds."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import EngineConfig, Mode
from ..errors import AuthoringError, EngineError, Location, StaleResultError, visible
from ..progress import Progress, Silent, Watcher
from ..sources.datasets import fetch
from ..sources.posts import PostDocument, read_document, snippet_for_placeholder
from ..sources.snippets import Snippet, load_snippet
from ..sources.values import format_value
from ..store.keys import KeyInputs, key_inputs
from ..store.results import CorruptResult, Result, copy_result, load_result, save_result
from .report import BuildReport, SnippetRun, failing_cell
from .shards import Shard

if TYPE_CHECKING:
    from filelock import FileLock

    from ..run.base import Executor, Job, Outcome
    from ..run.sandbox import Sandbox


@dataclass(frozen=True)
class Pending:
    """A snippet that must run: where it is used first, its key inputs, its result folder, and
    how long its last run took (None: never ran)."""

    snippet: Snippet
    referrer: Location
    inputs: KeyInputs
    folder: Path
    last_seconds: float | None = None


class Engine:
    """Prepares the results that a set of posts needs, honouring the configured mode."""

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
        self.environ = environ  # BLOG_EXECUTOR, BLOG_JOBS, RAY_ADDRESS (None: os.environ)
        self._executor_error: EngineError | None = None
        self.post_timeouts: dict[Path, float] = {}  # snippet -> longest limit its posts allow

    @cached_property
    def sandbox(self) -> Sandbox | None:
        """Chosen at the first execution: a build that reuses everything needs no bwrap."""
        from ..run.sandbox import choose

        return choose(log=self.log)

    @cached_property
    def executor(self) -> Executor:
        """Made at the first execution: a build that reuses everything starts no kernel pool."""
        from ..run.choose import make_executor

        executor = make_executor(self.environ, lambda: self.sandbox, self.log)
        self.log(f"executor: {executor.description}")
        return executor

    def _executor(self) -> Executor:
        """The executor; one that cannot be made (say, an unreachable Ray cluster) fails every
        snippet with the same error, without trying again for each."""
        if self._executor_error is None:
            try:
                return self.executor
            except EngineError as error:
                self._executor_error = error
        # A copy per snippet: each gets its own "(used at ...)".
        raise EngineError(self._executor_error.message, self._executor_error.location)

    def submit(self, job: Job, referrer: Location, label: str) -> Future[Outcome]:
        """Execute one job on this engine's executor, shown as `label` (`make verify` runs a
        snippet's variants this way; the caller stores what they give)."""
        watcher = self.progress.watch(job.relative, referrer)
        return self._executor().submit(
            job, Announcing(watcher, lambda: self.log(f"executing {label}"))
        )

    def close(self) -> None:
        """Let the executor go (its threads, or the Ray connection it opened)."""
        if "executor" in self.__dict__:
            self.executor.close()
            del self.__dict__["executor"]

    def prepare(self, posts: Iterable[Path], shard: Shard | None = None) -> BuildReport:
        """Find references in `posts`, make sure every referenced snippet has a fresh result.
        With `shard`, execute only that share of the stale snippets (the rest: 'skipped')."""
        started = time.monotonic()
        report = BuildReport()
        snippets = self._collect(sorted(posts), report)
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
                self._execute_all(pending, report)
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
            self._execute_all([planned], report)
            return report.runs.get(planned.snippet.path)
        return planned

    def result_folder(self, snippet: Snippet) -> Path:
        """`results/<snippet path inside snippets/, without .py>/`."""
        return self.config.results_dir / snippet.path.relative_to(
            self.config.snippets_dir.resolve()
        ).with_suffix("")

    def _plan(
        self, snippet: Snippet | None, referrer: Location, report: BuildReport
    ) -> SnippetRun | Pending | None:
        """Reuse the snippet's result (a SnippetRun), or say it must run (Pending)."""
        if snippet is None:
            return None
        try:
            planned = self._freshness(snippet, referrer)
        except EngineError as error:
            planned = SnippetRun(snippet, "failed", self.result_folder(snippet), error=error)
        if isinstance(planned, SnippetRun):
            self._record(planned, referrer, report)
        return planned

    def _freshness(self, snippet: Snippet, referrer: Location) -> SnippetRun | Pending:
        folder = self.result_folder(snippet)
        stored, problem = self._stored(folder, self.config.relative(snippet.path).as_posix())
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
        last = stored.provenance.get("wall_time_s") if stored is not None else None
        return Pending(snippet, referrer, inputs, folder, last if _is_number(last) else None)

    def _remember(self, folder: Path, key: str) -> None:
        """Keep a copy of a result in the local (git-ignored) cache, indexed by its key."""
        if not (self.config.local_results / key / "result.json").exists():
            copy_result(folder, self.config.local_results / key)

    def _stored(self, folder: Path, snippet: str) -> tuple[Result | None, str | None]:
        """The stored result if it is sound and names `snippet`, else (None, why not)."""
        try:
            stored = load_result(folder)
            if stored is not None and stored.snippet != snippet:
                raise CorruptResult(f"{folder}: names snippet {stored.snippet!r}, not {snippet!r}")
            return stored, None
        except CorruptResult as error:
            self.log(f"result is corrupted, treating it as stale: {error}")
            return None, f"is corrupted ({error})"

    def _share(
        self, pending: list[Pending], shard: Shard, snippets: Iterable[Path], report: BuildReport
    ) -> list[Pending]:
        """This shard's runs; the others are recorded as 'skipped'."""
        members = shard.members(self.config.relative(path) for path in snippets)
        mine = [item for item in pending if self.config.relative(item.snippet.path) in members]
        for item in pending:
            if item not in mine:
                self._record(SnippetRun(item.snippet, "skipped", item.folder), None, report)
                self.progress.advance()
        return mine

    def _execute_all(self, pending: list[Pending], report: BuildReport) -> None:
        """Hand every pending snippet to the executor at once, store results as they come.
        Each snippet's lock is held from before its run until its result is stored; one that
        another build is executing is waited for afterwards (then reused or run)."""
        waiting: list[Pending] = []
        locks: dict[Future[Outcome], FileLock] = {}
        futures: dict[Future[Outcome], Pending] = {}
        try:
            for item in sorted(pending, key=self._run_order):
                lock = self._try_lock(item)
                if lock is None:
                    waiting.append(item)
                    continue
                future = self._submit(item, report)
                if future is None:
                    lock.release()
                else:
                    futures[future], locks[future] = item, lock
            self._gather(futures, locks, report)
            for item in waiting:
                self._wait_for_other_build(item, report)
        except BaseException:
            if "executor" in self.__dict__:
                self.executor.close(cancel=True)
                del self.__dict__["executor"]
            raise
        finally:
            for lock in locks.values():
                lock.release()

    def _run_order(self, item: Pending) -> tuple[float, float, str]:
        return self.run_order(item.snippet, item.last_seconds)

    def run_order(self, snippet: Snippet, last_seconds: float | None) -> tuple[float, float, str]:
        """Runs start widest claim first, then longest last time first (a never-run snippet
        counts its time limit): the pool serves runs in order, so narrow runs fill the
        machine after the wide ones instead of leaving CPUs idle while a wide one waits, and
        the pool does not end waiting on one long run."""
        claim = snippet.header.claim
        width = float("inf") if claim.serial else claim.cpus
        expected = last_seconds or self.timeout(snippet)
        return -width, -expected, snippet.path.as_posix()

    def _submit(self, item: Pending, report: BuildReport) -> Future[Outcome] | None:
        """Start executing `item` (None when it needs no run or cannot start)."""
        snippet, relative = item.snippet, self.config.relative(item.snippet.path)
        stored, _ = self._stored(item.folder, relative.as_posix())
        if stored is not None and stored.key == item.inputs.key and self.config.mode is Mode.AUTO:
            run = SnippetRun(snippet, "reused", item.folder, result=stored)  # another build ran it
            self._done(run, item, report)
            return None
        timeout = self.timeout(snippet)
        from ..run.base import Job

        try:
            data = fetch(
                snippet.header.data, self.config.keras_home, self.config.data_mirror, relative
            )
            job = Job(snippet, relative, item.inputs, data, timeout)
            watcher = self.progress.watch(relative, item.referrer)
            message = f"executing {relative} (limit {timeout:g} s)"
            return self._executor().submit(job, Announcing(watcher, lambda: self.log(message)))
        except EngineError as error:
            self._done(SnippetRun(snippet, "failed", item.folder, error=error), item, report)
            return None

    def _gather(
        self,
        futures: dict[Future[Outcome], Pending],
        locks: dict[Future[Outcome], FileLock],
        report: BuildReport,
    ) -> None:
        """Store each outcome as it arrives (a failed run stores nothing), then unlock it."""
        for future in as_completed(futures):
            item = futures[future]
            try:
                outcome = future.result()
            except EngineError as error:
                run = SnippetRun(item.snippet, "failed", item.folder, error=error)
            else:
                run = self._stored_run(item, outcome)
            locks.pop(future).release()
            self._done(run, item, report)

    def _stored_run(self, item: Pending, outcome: Outcome) -> SnippetRun:
        if outcome.error is not None:
            return SnippetRun(
                item.snippet, "failed", item.folder, outcome.result, outcome.error, outcome.seconds
            )
        result = save_result(item.folder, outcome.result, dict(outcome.files))
        self._remember(item.folder, result.key)
        return SnippetRun(item.snippet, "executed", item.folder, result, seconds=outcome.seconds)

    def _wait_for_other_build(self, item: Pending, report: BuildReport) -> None:
        relative = self.config.relative(item.snippet.path)
        with self._lock(relative) as lock:
            future = self._submit(item, report)
            if future is not None:
                self._gather({future: item}, {future: lock}, report)

    def _done(self, run: SnippetRun, item: Pending, report: BuildReport) -> None:
        relative = self.config.relative(item.snippet.path)
        if run.status != "reused":
            self.log(f"{run.status} {relative} in {run.seconds:.1f} s")
        self.progress.finished(relative)
        self.progress.advance()
        self._record(run, item.referrer, report)

    def _record(self, run: SnippetRun, referrer: Location | None, report: BuildReport) -> None:
        report.runs[run.snippet.path] = run
        if run.error is not None and referrer is not None:
            cell = failing_cell(run.snippet, run.error)
            shown = referrer_for(run.snippet.path, cell, report.posts.values(), referrer)
            where = Location(self.config.relative(shown.path), shown.line)
            report.errors.append(_with_referrer(run.error, where))

    def timeout(self, snippet: Snippet) -> float:
        """The snippet header's limit, else the longest its posts allow, else the default."""
        return snippet.header.timeout or self.post_timeouts.get(snippet.path) or self.config.timeout

    def _try_lock(self, item: Pending) -> FileLock | None:
        from filelock import Timeout

        lock = self._file_lock(self.config.relative(item.snippet.path))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return None
        return lock

    def _file_lock(self, relative: Path) -> FileLock:
        from filelock import FileLock  # here: only a build that executes takes locks

        name = relative.as_posix().replace("/", "__")
        lock = FileLock(self.config.root / ".cache" / "locks" / f"{name}.lock")
        Path(lock.lock_file).parent.mkdir(parents=True, exist_ok=True)
        return lock

    @contextmanager
    def _lock(self, relative: Path) -> Iterator[FileLock]:
        """One build at a time executes a given snippet; others wait, and say so."""
        from filelock import Timeout

        lock = self._file_lock(relative)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            self.log(f"waiting: another build is executing {relative} (lock {lock.lock_file})")
            lock.acquire()
        try:
            yield lock
        finally:
            if lock.is_locked:
                lock.release()

    def _collect(self, posts: list[Path], report: BuildReport) -> dict[Path, Location]:
        """Snippet path -> first place that references it; authoring errors go to the report."""
        snippets: dict[Path, Location] = {}
        for post in posts:
            try:
                references = read_document(post, self.config.snippets_dir)
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
                run = report.snippet_named(placeholder.snippet)
                if run is None or run.result is None or run.status == "failed":
                    continue  # the snippet's own error is already reported
                try:
                    format_value(run.result.values, placeholder)
                except AuthoringError as error:
                    report.errors.append(error)


@dataclass(frozen=True)
class Announcing:
    """A progress watcher that also logs when its run starts (it may wait for resources)."""

    watcher: Watcher
    announce: Callable[[], None]

    def running(self) -> None:
        self.announce()
        self.watcher.running()

    def output(self, text: str) -> None:
        self.watcher.output(text)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
