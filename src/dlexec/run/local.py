"""The local executor: a pool of sandboxed kernels on this machine.

BLOG_JOBS kernels run at once (default: as many runs with default needs as the machine's CPUs
and memory hold). Each run takes what its snippet needs from the `Ledger` — GPUs before its
kernel starts, then CPUs, memory and a job slot — so kernels never oversubscribe the machine.
Up to two kernels more than there are slots are started ahead: they import Keras and its
backend while the others run, so a snippet's turn begins with a warm kernel.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from ..errors import Location
from ..progress import Watcher
from .base import Job, Outcome, outcome_of, start_kernel
from .kernel import KernelRun
from .resources import Cancelled, Ledger, Machine, jobs_setting
from .sandbox import Sandbox


class LocalExecutor:
    """Runs jobs in kernels on this machine, fitted to their needs."""

    def __init__(
        self,
        environ: Mapping[str, str],
        sandbox: Sandbox | None,
        log: Callable[[str], None] = print,
        machine: Machine | None = None,
    ) -> None:
        self.machine = machine or Machine.detect(environ)
        self.jobs = jobs_setting(environ, self.machine)
        self.sandbox = sandbox
        self.ledger = Ledger(self.machine, self.jobs)
        self.description = f"local, {self.jobs} at once ({self.machine.describe()})"
        # One thread per slot, one that starts the next kernel ahead of its turn, and one more
        # so that a thread still capturing a finished run's result (figures, curves) does not
        # hold back that start.
        self._threads = ThreadPoolExecutor(self.jobs + 2, thread_name_prefix="dlexec-run")
        self._active: set[KernelRun] = set()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._submitted = itertools.count()  # runs are admitted in the order they came

    def submit(self, job: Job, watcher: Watcher) -> Future[Outcome]:
        self.ledger.check(job.needs, Location(job.relative))
        order = next(self._submitted)
        self.ledger.queue(order)
        return self._threads.submit(self._run, job, watcher, order)

    def close(self, cancel: bool = False) -> None:
        """Wait for the runs (or, cancelling, stop every kernel and start no other)."""
        if cancel:
            self._cancelled.set()
            self.ledger.cancel()
            with self._lock:
                for run in self._active:
                    run.kill()
        self._threads.shutdown(wait=True, cancel_futures=cancel)

    def _run(self, job: Job, watcher: Watcher, order: int) -> Outcome:
        try:
            return self._run_in_turn(job, watcher, order)
        finally:
            self.ledger.withdraw(order)  # a run that was admitted is no longer queued anyway

    def _run_in_turn(self, job: Job, watcher: Watcher, order: int) -> Outcome:
        if self._cancelled.is_set():
            raise Cancelled
        gpus = self.ledger.take_gpus(job.needs, order)
        placement = None
        try:
            with start_kernel(job, self.sandbox, gpus) as run:
                self._track(run, True)
                try:
                    run.start()
                    placement = self.ledger.admit(job.needs, gpus, order)
                    run.pin(placement.cpus)
                    watcher.running()
                    started = time.monotonic()
                    execution = run.finish(watcher.output)
                finally:
                    self._track(run, False)
            seconds = time.monotonic() - started
        finally:
            if placement is not None:
                self.ledger.release(placement)
            else:
                self.ledger.release_gpus(gpus)
        if self._cancelled.is_set():
            raise Cancelled
        return outcome_of(job, execution, seconds, "local")

    def _track(self, run: KernelRun, active: bool) -> None:
        with self._lock:
            if active:
                self._active.add(run)
            else:
                self._active.discard(run)
