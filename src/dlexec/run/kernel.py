"""Run one snippet in a fresh Jupyter kernel and return a record of what happened.

Each snippet gets its own kernel process (TensorFlow state and GPU memory die with it), started
in the sandbox (`sandbox`) with its own temporary home and an allowlisted environment, no stdin,
one deadline for all cells, and a bound on how much output is kept in memory.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import psutil
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from ..capture.clean import TF_NOISE, human_size
from ..sources.needs import GiB
from ..sources.snippets import Snippet
from .sandbox import (
    DEFAULT_SCRATCH,
    HOME_INSIDE,
    SCRATCH,
    Sandbox,
    kernel_environment,
    manager_class,
    readonly_paths,
)

SETUP_CODE = "import dlexec.capture._kernel as _dlexec_kernel\n_dlexec_kernel.install()"
TEARDOWN_CODE = "_dlexec_kernel.publish_values(globals())"
SETUP_LIMIT = 300  # seconds for the setup cell: a loaded machine can take a minute to import TF
QUIET_LOG = logging.getLogger("dlexec.nbclient")
QUIET_LOG.setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Failure:
    """Why a run stopped: `kind` is 'error', 'timeout', 'died', 'memory' (over its claim) or
    'setup'; `cell` is the index of the snippet's code cell that was running."""

    kind: str
    cell: int
    message: str


@dataclass(frozen=True)
class Execution:
    """A finished run: per-cell raw outputs, the setup and teardown outputs, and timing."""

    cell_outputs: list[list[dict]]
    setup_outputs: list[dict]
    teardown_outputs: list[dict]
    wall_time: float
    failure: Failure | None = None
    peak_memory: int = 0  # bytes: the kernel's largest resident set, all its processes together
    cell_times: list[float] = field(default_factory=list)  # seconds, per code cell that ran


class BoundedClient(NotebookClient):
    """A NotebookClient that keeps the first `head` and last `tail` characters of each cell's
    printed output, and rich outputs (figures) up to a size per output and per cell, so a
    snippet printing or drawing gigabytes cannot exhaust the build's memory."""

    head: int = 2_000_000
    tail: int = 1_000_000
    rich_per_output: int = 8_000_000  # characters of one display's data (base64 of ~6 MB)
    rich_per_cell: int = 40_000_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_output: Callable[[str], None] | None = None
        self.sandboxed = False  # bwrap reports a child killed by signal N as exit 128 + N
        self._kept: dict[int, int] = {}
        self._tails: dict[int, deque[tuple[str, str]]] = {}
        self._tail_sizes: dict[int, int] = {}
        self._dropped: dict[int, int] = {}
        self._rich: dict[int, int] = {}

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        if msg["msg_type"] in ("display_data", "execute_result"):
            return self._rich_output(outs, msg, display_id, cell_index)
        if msg["msg_type"] != "stream":
            return super().output(outs, msg, display_id, cell_index)
        text = msg["content"]["text"]
        if self.on_output is not None:
            self.on_output(text)
        kept = self._kept.get(cell_index, 0)
        if cell_index not in self._tails and kept + len(text) <= self.head:
            self._kept[cell_index] = kept + len(text)
            return super().output(outs, msg, display_id, cell_index)
        # Past the head, everything goes to the tail, so output keeps its order.
        tail = self._tails.setdefault(cell_index, deque())
        tail.append((msg["content"]["name"], text))
        size = self._tail_sizes.get(cell_index, 0) + len(text)  # kept running: linear time
        while size - len(tail[0][1]) >= self.tail:
            dropped = len(tail.popleft()[1])
            size -= dropped
            self._dropped[cell_index] = self._dropped.get(cell_index, 0) + dropped
        self._tail_sizes[cell_index] = size
        return None

    def _rich_output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        """Keep a display unless it is over the size cap per output or per cell."""
        data = msg["content"].get("data", {})
        size = sum(len(value) if isinstance(value, str) else 1000 for value in data.values())
        used = self._rich.get(cell_index, 0) + size
        if size <= self.rich_per_output and used <= self.rich_per_cell:
            self._rich[cell_index] = used
            return super().output(outs, msg, display_id, cell_index)
        limit = self.rich_per_output if size > self.rich_per_output else self.rich_per_cell
        notice = (
            f"[an output of {human_size(size)} ({', '.join(sorted(data)) or 'no data'}) was left "
            f"out: over the limit of {human_size(limit)}]\n"
        )
        outs.append(nbformat.v4.new_output("stream", name="stderr", text=notice))
        return None

    def finish_cell(self, cell: nbformat.NotebookNode, cell_index: int) -> None:
        """Append the kept tail of a cell's output, after a notice of what was cut."""
        tail = self._tails.pop(cell_index, None)
        if not tail:
            return
        dropped = self._dropped.pop(cell_index, 0)
        notice = f"\n[... {human_size(dropped)} of output cut here to bound memory ...]\n"
        if dropped:
            cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=notice))
        for name, text in tail:
            cell.outputs.append(nbformat.v4.new_output("stream", name=name, text=text))


@dataclass(frozen=True)
class Launch:
    """How a kernel is fitted to its claim: extra environment variables (math threads, GPUs)
    and the memory it may use (None: no limit), enforced by MemoryWatch."""

    env: Mapping[str, str] = field(default_factory=dict)
    memory_limit: int | None = None


class KernelRun:
    """One snippet's kernel, in two steps so that a pool can start the next kernel (and import
    Keras and its backend there) while another snippet runs: `start()` launches the kernel in
    the sandbox and runs the engine's setup cell; `finish()` runs the snippet's cells.

    `data_files` maps each declared data name (relative to KERAS_HOME) to the verified file the
    engine fetched; the kernel gets its own KERAS_HOME holding only those."""

    def __init__(
        self,
        snippet: Snippet,
        data_files: Mapping[str, Path],
        timeout: float,
        sandbox: Sandbox | None,
        launch: Launch,
    ) -> None:
        self.snippet = snippet
        self.data_files = data_files
        self.timeout = timeout
        self.sandbox = sandbox
        self.launch = launch
        self.notebook = _notebook(snippet)
        self.setup_failure: Failure | None = None
        self.watch: MemoryWatch | None = None
        self._stack = ExitStack()
        self._client: BoundedClient | None = None
        self._log_path = Path()

    def __enter__(self) -> KernelRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Launch the kernel and run the setup cell (a failure is kept for `finish`)."""
        run_dir = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="dlexec-")))
        for folder in ("ipc", "home"):
            (run_dir / folder).mkdir()
        # Sandboxed, the run's home is always /home/reader: printed paths are the same on
        # every run and read like a reader's own machine.
        home = HOME_INSIDE if self.sandbox is not None else run_dir / "home"
        binds = _stage_home(run_dir / "home", home, self.data_files, copy=self.sandbox is None)
        scratch = self.launch.memory_limit or DEFAULT_SCRATCH
        env = kernel_environment({**self.launch.env, **_home_env(home)})
        client = BoundedClient(
            self.notebook,
            kernel_name="python3",
            kernel_manager_class=_kernel_manager(run_dir, env, binds, self.sandbox, scratch),
            timeout=self.timeout,
            allow_errors=False,
            # nbclient's merging of streams is quadratic on long lines: capture merges them.
            coalesce_streams=False,
            # After a cell finishes, keep reading its output until it is all in (a flood of
            # prints can leave the client seconds behind the kernel; the default gives up at 4 s).
            iopub_timeout=60,
            log=QUIET_LOG,  # failures are reported once, by the engine, with their location
        )
        client.sandboxed = self.sandbox is not None
        self._client = client
        # The kernel's own stderr (TensorFlow's C++ logs, crash reports) goes to a log file
        # outside the kernel's reach, not to the build's terminal; a crash report quotes its end.
        log = self._stack.enter_context(
            tempfile.NamedTemporaryFile("w+", prefix="dlexec-kernel-", suffix=".log")  # noqa: SIM115
        )
        self._log_path = Path(log.name)
        self._stack.enter_context(
            client.setup_kernel(env=env, cwd=run_dir / "home", stdout=log, stderr=log)
        )
        self.watch = MemoryWatch(
            _kernel_process(client),
            self.launch.memory_limit,
            scratch=SCRATCH if self.sandbox is not None else (),
        )
        self._stack.callback(self.watch.stop)
        # The engine's own setup (importing Keras and its backend) is not the snippet's time.
        deadline = time.monotonic() + SETUP_LIMIT
        self.setup_failure = self._cell(0, SETUP_LIMIT, deadline, setup=True)

    def pin(self, cpus: tuple[int, ...]) -> None:
        """Keep every thread of the kernel (and threads it starts later) on `cpus`."""
        if self.watch is not None and cpus:
            self.watch.pin(cpus)

    def finish(self, on_output: Callable[[str], None] | None = None) -> Execution:
        """Run the snippet's cells (one deadline for all), then the teardown cell."""
        assert self._client is not None, "start() first"
        self._client.on_output = on_output
        cells = self.notebook.cells
        failure = self.setup_failure
        started = time.monotonic()
        deadline = started + self.timeout
        cell_times = []
        for index in range(1, len(cells) - 1):
            if failure:
                break
            cell_started = time.monotonic()
            failure = self._cell(index, self.timeout, deadline)
            cell_times.append(time.monotonic() - cell_started)
        wall_time = time.monotonic() - started
        if not failure:
            failure = self._cell(len(cells) - 1, 60, time.monotonic() + 60, setup=True)
        return Execution(
            cell_outputs=[list(cell.outputs) for cell in cells[1:-1]],
            setup_outputs=list(cells[0].outputs),
            teardown_outputs=list(cells[-1].outputs),
            wall_time=wall_time,
            failure=failure,
            peak_memory=self.watch.peak if self.watch else 0,
            cell_times=cell_times,
        )

    def kill(self) -> None:
        """Stop the kernel now (the build is being interrupted); `finish` then returns."""
        if self.watch is not None:
            self.watch.kill()

    def close(self) -> None:
        self._stack.close()

    def _cell(
        self, index: int, limit: float, deadline: float, setup: bool = False
    ) -> Failure | None:
        assert self._client is not None
        return _run_cell(
            self._client,
            self.notebook.cells,
            index,
            limit,
            deadline,
            self._log_path,
            self.watch,
            setup,
        )


def _home_env(home: Path) -> dict[str, str]:
    """Variables that point the kernel at its own home: working directory, Keras and
    matplotlib caches."""
    return {
        "HOME": str(home),
        "KERAS_HOME": str(home / ".keras"),
        "MPLCONFIGDIR": str(home / ".config" / "matplotlib"),
        "TMPDIR": "/tmp",
    }


def _stage_home(
    folder: Path, home: Path, data_files: Mapping[str, Path], copy: bool
) -> dict[Path, Path]:
    """Make the run's home (seen by the kernel at `home`) with its declared data and the build's
    matplotlib font list (so each kernel does not rebuild it, seconds): copied into `folder`
    (unsandboxed), or bound read-only into the sandbox's home. Returns binds, target -> source."""
    import matplotlib

    fonts = Path(matplotlib.get_cachedir()).glob("fontlist-*.json")
    wanted = {Path(".keras") / name: source for name, source in data_files.items()}
    wanted |= {Path(".config", "matplotlib", cached.name): cached for cached in fonts}
    if not copy:
        return {home / relative: source for relative, source in wanted.items()}
    for relative, source in wanted.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, folder / relative)
    (folder / ".config" / "matplotlib").mkdir(parents=True, exist_ok=True)
    return {}


def _kernel_manager(
    run_dir: Path,
    env: dict[str, str],
    binds: Mapping[Path, Path],
    sandbox: Sandbox | None,
    scratch_bytes: int,
) -> type[AsyncKernelManager]:
    """A kernel manager class speaking over Unix sockets in the run folder (they cross the
    sandbox; TCP on localhost would not, and has port races between parallel kernels). A class,
    not an instance: nbclient then owns the kernel and shuts it down after the run."""
    ipc = run_dir / "ipc"
    options: dict[str, Any] = {
        "transport": "ipc",
        "ip": str(ipc / "kernel"),
        "connection_file": str(ipc / "kernel.json"),
    }
    prefix = []
    if sandbox is not None:
        prefix = sandbox.command(run_dir, env, readonly_paths(), binds, scratch_bytes)
    # Should the machine run out of memory anyway, its killer takes a kernel, not the build.
    choom = shutil.which("choom")
    prefix = [choom, "-n", "1000", "--", *prefix] if choom else prefix
    return manager_class(prefix, options)


def _notebook(snippet: Snippet) -> nbformat.NotebookNode:
    """Setup cell, the snippet's code cells, teardown cell."""
    cells = [nbformat.v4.new_code_cell(SETUP_CODE)]
    cells += [nbformat.v4.new_code_cell(cell.source) for cell in snippet.cells]
    cells.append(nbformat.v4.new_code_cell(TEARDOWN_CODE))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return notebook


def _run_cell(
    client: BoundedClient,
    cells: list,
    index: int,
    limit: float,
    deadline: float,
    log_path: Path,
    watch: MemoryWatch | None,
    setup: bool = False,
) -> Failure | None:
    """Run one cell before `deadline` (the snippet's `limit` s); return a Failure, never raise."""
    code_index = index - 1  # index among the snippet's own code cells
    client.timeout = max(1, int(deadline - time.monotonic() + 0.999))
    try:
        client.execute_cell(cells[index], index)
    except CellTimeoutError:
        message = f"did not finish within its time limit of {limit:g} s and was stopped"
        return Failure("setup" if setup else "timeout", code_index, message)
    except DeadKernelError:
        if watch is not None and watch.exceeded:
            return Failure("memory", code_index, watch.message())
        return Failure("setup" if setup else "died", code_index, _death_message(client, log_path))
    except CellExecutionError as error:
        message = f"{error.ename}: {error.evalue}"
        if client.sandboxed and "No space left on device" in error.evalue:
            message += f"; {FULL_SCRATCH}"
        return Failure("setup" if setup else "error", code_index, message)
    finally:
        client.finish_cell(cells[index], index)
    return None


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


def _kernel_process(client: BoundedClient) -> psutil.Process | None:
    process = getattr(getattr(client.km, "provisioner", None), "process", None)
    try:
        return psutil.Process(process.pid) if process is not None else None
    except psutil.Error:
        return None


def _death_message(client: BoundedClient, log_path: Path) -> str:
    """Say how the kernel process ended (exit code or signal) and quote its last log lines."""
    process = getattr(getattr(client.km, "provisioner", None), "process", None)
    code = process.wait(timeout=10) if process is not None else None
    if code is not None and client.sandboxed and code > 128:
        code = 128 - code
    if code is not None and code < 0:
        how = f"was killed by signal {signal.Signals(-code).name}"
        if -code == signal.SIGKILL:
            how += " (often the out-of-memory killer)"
    else:
        how = f"exited with code {code}" if code is not None else "died"
    message = f"the kernel process {how} while running this cell"
    detail = _tail(log_path)
    return f"{message}; end of the kernel's log:\n{detail}" if detail else message


def _tail(path: Path, lines: int = 8) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    kept = [line for line in text.splitlines() if line.strip() and not TF_NOISE.match(line)]
    return "\n".join(kept[-lines:])
