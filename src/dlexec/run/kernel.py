"""Run one snippet in a fresh Jupyter kernel and return a record of what happened.

Each snippet gets its own kernel process (TensorFlow state and GPU memory die with it), started
in the sandbox (`sandbox`) with its own temporary home and an allowlisted environment, no stdin,
one deadline for all cells, and a bound on how much output is kept in memory.
"""

from __future__ import annotations

import ast
import logging
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import psutil
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from ..capture.clean import TF_NOISE
from ..sources.snippets import Snippet
from .client import BoundedClient
from .memory import FULL_SCRATCH, MemoryWatch
from .sandbox import (
    DEFAULT_SCRATCH,
    HOME_INSIDE,
    SCRATCH,
    Sandbox,
    kernel_environment,
    manager_class,
    readonly_paths,
)

SETUP_CODE = "import dlexec.capture._kernel as _dlexec_kernel\n_dlexec_kernel.install({})"
# A snippet importing one of these gets them imported before its first cell (not its time).
FRAMEWORKS = frozenset({"keras", "tensorflow", "jax", "torch"})
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


def imports_frameworks(snippet: Snippet) -> bool:
    """Does any cell import Keras or a backend (or fail to parse: then assume it does)?"""
    for cell in snippet.cells:
        try:
            tree = ast.parse(cell.source)
        except (SyntaxError, ValueError):
            return True
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            if any(name.partition(".")[0] in FRAMEWORKS for name in names):
                return True
    return False


def _notebook(snippet: Snippet) -> nbformat.NotebookNode:
    """Setup cell, the snippet's code cells, teardown cell."""
    cells = [nbformat.v4.new_code_cell(SETUP_CODE.format(imports_frameworks(snippet)))]
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
