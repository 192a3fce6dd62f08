"""Scheduling and gathering: hand the snippets that must run to the executor (made at the first
run), widest needs and longest first, one build at a time per snippet (file locks), and store
each outcome as it arrives. `make verify` submits its variants through the same executor."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..config import EngineConfig
from ..errors import EngineError, Location
from ..files import lock_path
from ..progress import Progress, Watcher
from ..sources.datasets import fetch
from ..sources.needs import Needs
from ..sources.snippets import Snippet
from .freshness import Freshness, Pending
from .report import BuildReport, SnippetRun

if TYPE_CHECKING:
    from filelock import FileLock

    from ..run.base import Executor, Job, Outcome
    from ..run.sandbox import Sandbox

Record = Callable[[SnippetRun, Location | None, BuildReport], None]
T = TypeVar("T")


def gathered(
    futures: Mapping[Future[Outcome], T],
) -> Iterator[tuple[T, Outcome | None, EngineError | None]]:
    """Each submitted item as its run ends: (item, outcome, None), or (item, None, error) when
    the kernel could not run it at all. The one gather loop of builds and `make verify`."""
    for future in as_completed(futures):
        item = futures[future]
        try:
            yield item, future.result(), None
        except EngineError as error:
            yield item, None, error


def run_order_key(needs: Needs, expected_seconds: float, name: str) -> tuple[Any, ...]:
    """Runs start widest needs first, then longest expected time first: the pool serves runs
    in order, so narrow runs fill the machine after the wide ones instead of leaving CPUs idle
    while a wide one waits, and the pool does not end waiting on one long run."""
    width = float("inf") if needs.serial else needs.cpus
    return -width, -expected_seconds, name


class Scheduler:
    """Runs pending snippets on one executor, and reports each run through `record`."""

    def __init__(
        self,
        config: EngineConfig,
        log: Callable[[str], None],
        progress: Progress,
        environ: Mapping[str, str] | None,
        freshness: Freshness,
        record: Record,
    ) -> None:
        self.config = config
        self.log = log
        self.progress = progress
        self.environ = environ  # BLOG_EXECUTOR, BLOG_JOBS, RAY_ADDRESS (None: os.environ)
        self.freshness = freshness
        self.record = record
        self.post_timeouts: dict[Path, float] = {}  # snippet -> longest limit its posts allow
        self._executor_error: EngineError | None = None

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
        """Execute one job, shown as `label` (`make verify` runs a snippet's variants this
        way; the caller stores what they give)."""
        watcher = self.progress.watch(job.relative, referrer)
        return self._executor().submit(
            job, Announcing(watcher, lambda: self.log(f"executing {label}"))
        )

    def close(self, cancel: bool = False) -> None:
        """Let the executor go (its threads, or the Ray connection it opened)."""
        if "executor" in self.__dict__:
            if cancel:
                self.executor.close(cancel=True)
            else:
                self.executor.close()
            del self.__dict__["executor"]

    def timeout(self, snippet: Snippet) -> float:
        """The snippet header's limit, else the longest its posts allow, else the default."""
        return snippet.header.timeout or self.post_timeouts.get(snippet.path) or self.config.timeout

    def run_order(self, snippet: Snippet, last_seconds: float | None) -> tuple[float, ...]:
        expected = last_seconds or self.timeout(snippet)  # a never-run snippet: its time limit
        return run_order_key(snippet.header.needs, expected, snippet.path.as_posix())

    def execute_all(self, pending: list[Pending], report: BuildReport) -> None:
        """Hand every pending snippet to the executor at once, store results as they come.
        Each snippet's lock is held from before its run until its result is stored; one that
        another build is executing is waited for afterwards (then reused or run)."""
        waiting: list[Pending] = []
        locks: dict[Future[Outcome], FileLock] = {}
        futures: dict[Future[Outcome], Pending] = {}
        try:
            for item in sorted(pending, key=lambda i: self.run_order(i.snippet, i.last_seconds)):
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
            self.close(cancel=True)
            raise
        finally:
            for lock in locks.values():
                lock.release()

    def _submit(self, item: Pending, report: BuildReport) -> Future[Outcome] | None:
        """Start executing `item` (None when it needs no run or cannot start)."""
        reused = self.freshness.reusable(item)  # another build ran it meanwhile
        if reused is not None:
            self._done(reused, item, report)
            return None
        snippet, relative = item.snippet, self.config.relative(item.snippet.path)
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
        future_of = {id(item): future for future, item in futures.items()}  # (not hashable)
        for item, outcome, error in gathered(futures):
            if outcome is None:
                run = SnippetRun(item.snippet, "failed", item.folder, error=error)
            else:
                run = self.freshness.store(item, outcome)
            locks.pop(future_of[id(item)]).release()
            self._done(run, item, report)

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
        self.record(run, item.referrer, report)

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

        return FileLock(lock_path(self.config.root / ".cache" / "locks", relative, ".lock"))

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
