"""What one snippet run needs, what the machine has, and the ledger that hands out
CPUs, GPUs and memory so that the kernels running at once never oversubscribe the machine.

Its needs are written in the snippet's header (`resources: {cpus: 2, gpus: 1, memory: 6GiB}`,
`serial: true`). Its CPU count is also the kernel's number of math threads, whatever the
machine or BLOG_JOBS: a seeded snippet then computes the same numbers run alone or in a pool.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import EngineError, Location
from ..sources.needs import DEFAULT_CPUS, DEFAULT_MEMORY, GiB, Needs

BUILD_RESERVE = 1 * GiB  # left for the build process itself (MkDocs, capture, plots)
THREAD_VARIABLES = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
)  # fmt: skip


class Cancelled(Exception):
    """The build is stopping (Ctrl-C, SIGTERM): runs still waiting never start."""


@dataclass(frozen=True)
class Machine:
    """What this build may hand to kernels: CPU ids, GPU ids (CUDA_VISIBLE_DEVICES entries) and
    bytes of memory (the machine's or its cgroup's, less the build's own reserve)."""

    cpus: tuple[int, ...]
    gpus: tuple[str, ...]
    memory: int

    @classmethod
    def detect(cls, environ: Mapping[str, str] | None = None) -> Machine:
        environ = os.environ if environ is None else environ
        return cls(
            cpus=tuple(sorted(os.sched_getaffinity(0))),
            gpus=_gpu_ids(environ),
            memory=max(_memory_limit() - BUILD_RESERVE, GiB),
        )

    def default_jobs(self) -> int:
        """Kernels at once when BLOG_JOBS is unset: as many runs with default needs as fit."""
        return max(1, min(len(self.cpus) // DEFAULT_CPUS, self.memory // DEFAULT_MEMORY))

    def describe(self) -> str:
        gpus = f"{len(self.gpus)} GPU(s)" if self.gpus else "no GPU"
        return f"{len(self.cpus)} CPU(s), {gpus}, {self.memory / GiB:.1f} GiB for kernels"


@dataclass(frozen=True)
class Placement:
    """What the ledger gave one run: CPU ids to pin it to, GPU ids, bytes of memory."""

    cpus: tuple[int, ...]
    gpus: tuple[str, ...]
    memory: int
    slots: int = 1


def jobs_setting(environ: Mapping[str, str], machine: Machine) -> int:
    """BLOG_JOBS: a positive number, or unset/`auto` for the machine's default."""
    text = environ.get("BLOG_JOBS", "auto").strip().lower() or "auto"
    if text == "auto":
        return machine.default_jobs()
    if not text.isdigit() or int(text) < 1:
        raise EngineError(f"BLOG_JOBS={text!r} must be a positive whole number or 'auto'")
    return int(text)


def kernel_env(needs: Needs, gpus: tuple[str, ...]) -> dict[str, str]:
    """Variables that fit a kernel to its needs: math threads (the claimed CPUs), the GPUs it
    was given (none: CUDA_VISIBLE_DEVICES is empty) with memory growth instead of
    TensorFlow's and JAX's grab-everything default."""
    env = {name: str(needs.cpus) for name in THREAD_VARIABLES}
    env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    return env


class Ledger:
    """Hands out the machine's CPUs, GPUs, memory and job slots. GPUs are taken first (before a
    kernel starts, since CUDA reads CUDA_VISIBLE_DEVICES once); the rest on admission, strictly
    in the order the runs were queued: a later run never goes first, even when its kernel is
    ready sooner or it would fit. (A narrow run slipping in while a wide one's kernel still
    starts would leave CPUs idle for the whole narrow run, the wide one waiting for them.)
    A serial run takes every slot and CPU."""

    def __init__(self, machine: Machine, slots: int) -> None:
        self.machine = machine
        self.slots = slots
        self._changed = threading.Condition()
        self._free_cpus = list(machine.cpus)
        self._free_gpus = list(machine.gpus)
        self._free_memory = machine.memory
        self._free_slots = slots
        self._queued: set[int] = set()  # the order numbers of runs not yet admitted
        self._queued_for_gpus: set[int] = set()  # ... and of those without their GPUs yet
        self._cancelled = False

    def cancel(self) -> None:
        """Wake every waiting run with Cancelled."""
        with self._changed:
            self._cancelled = True
            self._changed.notify_all()

    def _wait_for(self, ready: Callable[[], bool]) -> None:
        self._changed.wait_for(lambda: self._cancelled or ready())
        if self._cancelled:
            raise Cancelled

    def check(self, needs: Needs, where: Location) -> None:
        """Refuse needs this machine can never satisfy: it would wait for ever, or run with
        more math threads than CPUs. A run needing a GPU on a machine without a GPU runs on the CPU
        (the blog's promise); one for more GPUs than a GPU machine has is refused."""
        machine, gpus = self.machine, len(self.machine.gpus)
        problem = None
        if needs.memory > machine.memory:
            problem = (
                f"`resources: memory` claims {needs.memory / GiB:.1f} GiB; this machine has "
                f"{machine.memory / GiB:.1f} GiB for kernels"
            )
        elif needs.cpus > len(machine.cpus):
            problem = (
                f"`resources: cpus` claims {needs.cpus} CPUs; this machine has "
                f"{len(machine.cpus)} for kernels"
            )
        elif gpus and (needs.gpus or 0) > gpus:
            problem = f"`resources: gpus` claims {needs.gpus} GPUs; this machine has {gpus}"
        if problem:
            raise EngineError(problem, where)

    def queue(self, order: int) -> None:
        """Reserve a run's place in the admission order (when it is submitted, before its
        kernel starts)."""
        with self._changed:
            self._queued.add(order)
            self._queued_for_gpus.add(order)

    def withdraw(self, order: int) -> None:
        """Give up a place that will never be admitted (its kernel failed to start, say)."""
        with self._changed:
            self._queued.discard(order)
            self._queued_for_gpus.discard(order)
            self._changed.notify_all()

    def take_gpus(self, needs: Needs, order: int | None = None) -> tuple[str, ...]:
        """Block until the GPUs these needs take are free and, for a queued run, every run
        queued before it has its GPUs: taken out of order, a later run could hold the GPU an
        earlier one waits for while it waits for that earlier one's admission."""
        wanted = needs.gpus_on(len(self.machine.gpus))
        with self._changed:
            self._wait_for(
                lambda: (
                    (order not in self._queued_for_gpus or order == min(self._queued_for_gpus))
                    and len(self._free_gpus) >= wanted
                )
            )
            self._queued_for_gpus.discard(order)
            taken, self._free_gpus = self._free_gpus[:wanted], self._free_gpus[wanted:]
            self._changed.notify_all()
        return tuple(taken)

    def admit(self, needs: Needs, gpus: tuple[str, ...], order: int = 0) -> Placement:
        """Block until the needs fit and no queued run comes before it (`order`: lowest
        first; a run not queued before is queued now), then take it."""
        cpus = len(self.machine.cpus) if needs.serial else min(needs.cpus, len(self.machine.cpus))
        slots = self.slots if needs.serial else 1
        with self._changed:
            self._queued.add(order)
            try:
                self._wait_for(
                    lambda: (
                        order == min(self._queued)
                        and len(self._free_cpus) >= cpus
                        and self._free_memory >= needs.memory
                        and self._free_slots >= slots
                    )
                )
            finally:
                self._queued.discard(order)
            taken, self._free_cpus = self._free_cpus[:cpus], self._free_cpus[cpus:]
            self._free_memory -= needs.memory
            self._free_slots -= slots
            self._changed.notify_all()
        return Placement(tuple(taken), gpus, needs.memory, slots)

    def release(self, placement: Placement) -> None:
        with self._changed:
            self._free_cpus = sorted(self._free_cpus + list(placement.cpus))
            self._free_memory += placement.memory
            self._free_slots += placement.slots
            self._changed.notify_all()
        self.release_gpus(placement.gpus)

    def release_gpus(self, gpus: tuple[str, ...]) -> None:
        with self._changed:
            self._free_gpus += gpus
            self._changed.notify_all()


def _gpu_ids(environ: Mapping[str, str]) -> tuple[str, ...]:
    """GPUs to hand out: BLOG_GPUS (ids, e.g. `0,1`; also logical ones for tests), else the
    build's CUDA_VISIBLE_DEVICES, else one per NVIDIA device file."""
    for name in ("BLOG_GPUS", "CUDA_VISIBLE_DEVICES"):
        if name in environ:
            return tuple(part.strip() for part in environ[name].split(",") if part.strip())
    devices = [p.name for p in Path("/dev").glob("nvidia[0-9]*") if p.name[6:].isdigit()]
    return tuple(str(index) for index in range(len(devices)))


def _memory_limit() -> int:
    """The machine's memory, or its cgroup's limit when lower (containers, CI runners)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total
