"""The memory watch: a kernel's memory (its processes, and the files it holds in its sandbox's
tmpfs folders and in memfd files) held to its claim, and its CPUs pinned."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

import psutil

from ..sources.needs import GiB

FULL_SCRATCH = (
    "in the sandbox, HOME, /tmp and /dev/shm are each a folder in memory as large as the "
    "snippet's memory claim, and their files count in it: raise `resources: {memory: ...}` in "
    "the snippet's header if it really needs more"
)


class MemoryWatch:
    """Measures a kernel's memory (every process it started, summed, plus the files in its
    sandbox's `scratch` tmpfs folders, which are memory too) and, past `limit` bytes, kills
    it: the snippet fails with a message naming its claim, instead of the machine's
    out-of-memory killer choosing a victim (perhaps the build). Also pins CPUs."""

    interval = 0.2  # seconds between measurements

    def __init__(
        self, process: psutil.Process | None, limit: int | None, scratch: Iterable[Path] = ()
    ) -> None:
        self.process = process
        self.limit = limit
        self.scratch = tuple(scratch)
        self.peak = 0
        self.peak_files = 0  # bytes in the scratch folders when `peak` was measured
        self.exceeded = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dlexec-memory", daemon=True)
        if process is not None:
            self._thread.start()

    def message(self) -> str:
        files = ""
        if self.peak_files:
            where = ", ".join(str(folder) for folder in self.scratch)
            files = f" ({self.peak_files / GiB:.2f} GiB of it files in {where} or memfd)"
        return (
            f"the kernel used {self.peak / GiB:.2f} GiB{files}, more than the "
            f"{self.limit / GiB:.2f} GiB this snippet claims, and was stopped; raise "
            "`resources: {memory: ...}` in the snippet's header if it really needs more"
        )

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def pin(self, cpus: tuple[int, ...]) -> None:
        for process in self._tree():
            for task in _tasks(process.pid):
                with suppress(OSError):  # the thread ended meanwhile
                    os.sched_setaffinity(task, cpus)

    def _loop(self) -> None:
        while not self._stopped.wait(self.interval):
            tree = self._tree()
            used = files = self._files(tree) + _memory_files(tree)
            for process in tree:
                with suppress(psutil.Error):
                    used += process.memory_info().rss
            if used > self.peak:
                self.peak, self.peak_files = used, files
            if self.limit is not None and used > self.limit:
                self.exceeded = True
                self.kill()
                return

    def _files(self, tree: list[psutil.Process]) -> int:
        """Bytes used in the scratch folders, seen through the root of a process inside the
        sandbox (one whose mount namespace is not ours: bwrap itself runs outside)."""
        inside = next((p.pid for p in tree if _mount_namespace(p.pid) != _mount_namespace()), None)
        if inside is None:
            return 0
        used = 0
        for folder in self.scratch:
            with suppress(OSError):
                status = os.statvfs(f"/proc/{inside}/root{folder}")
                used += (status.f_blocks - status.f_bfree) * status.f_frsize
        return used

    def kill(self) -> None:
        for process in self._tree():
            with suppress(psutil.Error):
                process.kill()

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self.process, *self.process.children(recursive=True)]
        except psutil.Error:
            return []


def _memory_files(tree: list[psutil.Process]) -> int:
    """Bytes held in memfd files (`os.memfd_create`) the processes have open: memory that is
    in no process' resident set until it is mapped."""
    seen: set[tuple[int, int]] = set()
    used = 0
    for process in tree:
        with suppress(OSError):
            for fd in os.listdir(f"/proc/{process.pid}/fd"):
                with suppress(OSError):
                    if not os.readlink(f"/proc/{process.pid}/fd/{fd}").startswith("/memfd:"):
                        continue
                    status = os.stat(f"/proc/{process.pid}/fd/{fd}")
                    if (status.st_dev, status.st_ino) not in seen:
                        seen.add((status.st_dev, status.st_ino))
                        used += status.st_blocks * 512
    return used


def _mount_namespace(pid: int | str = "self") -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _tasks(pid: int) -> list[int]:
    try:
        return [int(name) for name in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []
