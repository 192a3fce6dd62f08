"""Run one snippet in a fresh Jupyter kernel and return a record of what happened.

Each snippet gets its own kernel process (TensorFlow state and GPU memory die with it), started
in the sandbox (`sandbox`) with its own temporary home and an allowlisted environment, no stdin,
one deadline for all cells, and a bound on how much output is kept in memory.
"""

from __future__ import annotations

import logging
import shutil
import signal
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from .clean import TF_NOISE, human_size
from .sandbox import HOME_INSIDE, Sandbox, kernel_environment, manager_class, readonly_paths
from .snippets import Snippet

SETUP_CODE = "import dlexec._kernel as _dlexec_kernel\n_dlexec_kernel.install()"
TEARDOWN_CODE = "_dlexec_kernel.publish_values(globals())"
SETUP_LIMIT = 300  # seconds for the setup cell: a loaded machine can take a minute to import TF
QUIET_LOG = logging.getLogger("dlexec.nbclient")
QUIET_LOG.setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Failure:
    """Why a run stopped: `kind` is 'error', 'timeout', 'died' or 'setup'; `cell` is the
    index of the snippet's code cell that was running."""

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


def run_snippet(
    snippet: Snippet,
    data_files: Mapping[str, Path],
    timeout: float,
    on_output: Callable[[str], None] | None = None,
    sandbox: Sandbox | None = None,
) -> Execution:
    """Execute all code cells of `snippet` in order, stopping at the first failure.

    `data_files` maps each declared data name (relative to KERAS_HOME) to the verified file the
    engine fetched; the kernel gets its own KERAS_HOME holding only those. `on_output` sees
    printed text as it arrives (for progress displays)."""
    notebook = _notebook(snippet)
    with tempfile.TemporaryDirectory(prefix="dlexec-") as temporary:
        run_dir = Path(temporary)
        for folder in ("ipc", "home"):
            (run_dir / folder).mkdir()
        # Sandboxed, the run's home is always /home/reader: printed paths are the same on
        # every run and read like a reader's own machine.
        home = HOME_INSIDE if sandbox is not None else run_dir / "home"
        binds = _stage_home(run_dir / "home", home, data_files, copy=sandbox is None)
        env = kernel_environment(_home_env(home))
        client = BoundedClient(
            notebook,
            kernel_name="python3",
            kernel_manager_class=_kernel_manager(run_dir, env, binds, sandbox),
            timeout=timeout,
            allow_errors=False,
            # nbclient's merging of streams is quadratic on long lines: capture merges them.
            coalesce_streams=False,
            # After a cell finishes, keep reading its output until it is all in (a flood of
            # prints can leave the client seconds behind the kernel; the default gives up at 4 s).
            iopub_timeout=60,
            log=QUIET_LOG,  # failures are reported once, by the engine, with their location
        )
        client.on_output = on_output
        client.sandboxed = sandbox is not None
        # The kernel's own stderr (TensorFlow's C++ logs, crash reports) goes to a log file
        # outside the kernel's reach, not to the build's terminal; a crash report quotes its end.
        with (
            tempfile.NamedTemporaryFile("w+", prefix="dlexec-kernel-", suffix=".log") as log,
            client.setup_kernel(env=env, cwd=run_dir / "home", stdout=log, stderr=log),
        ):
            return _run_cells(client, notebook, timeout, Path(log.name))


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
    """Make the run's home in `folder` (seen by the kernel at `home`) with its declared data:
    copied (unsandboxed) or bound read-only (sandboxed). Returns binds, target -> source."""
    binds = {}
    for name, source in data_files.items():
        target = folder / ".keras" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if copy:
            shutil.copyfile(source, target)
        else:
            binds[home / ".keras" / name] = source
    _seed_font_cache(folder / ".config" / "matplotlib")
    return binds


def _seed_font_cache(mpl_config: Path) -> None:
    """Copy the build's matplotlib font list, so each kernel does not rebuild it (seconds)."""
    import matplotlib

    mpl_config.mkdir(parents=True, exist_ok=True)
    for cached in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
        shutil.copyfile(cached, mpl_config / cached.name)


def _kernel_manager(
    run_dir: Path, env: dict[str, str], binds: Mapping[Path, Path], sandbox: Sandbox | None
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
    prefix = [] if sandbox is None else sandbox.command(run_dir, env, readonly_paths(), binds)
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


def _run_cells(
    client: BoundedClient, notebook: nbformat.NotebookNode, timeout: float, log_path: Path
) -> Execution:
    cells = notebook.cells
    # The engine's own setup (importing Keras and its backend) is not the snippet's time.
    limit = SETUP_LIMIT
    failure = _run_cell(client, cells, 0, limit, time.monotonic() + limit, log_path, setup=True)
    started = time.monotonic()
    deadline = started + timeout
    for index in range(1, len(cells) - 1):
        if failure:
            break
        failure = _run_cell(client, cells, index, timeout, deadline, log_path)
    wall_time = time.monotonic() - started
    if not failure:
        last = len(cells) - 1
        failure = _run_cell(client, cells, last, 60, time.monotonic() + 60, log_path, setup=True)
    return Execution(
        cell_outputs=[list(cell.outputs) for cell in cells[1:-1]],
        setup_outputs=list(cells[0].outputs),
        teardown_outputs=list(cells[-1].outputs),
        wall_time=wall_time,
        failure=failure,
    )


def _run_cell(
    client: BoundedClient,
    cells: list,
    index: int,
    limit: float,
    deadline: float,
    log_path: Path,
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
        return Failure("setup" if setup else "died", code_index, _death_message(client, log_path))
    except CellExecutionError as error:
        return Failure("setup" if setup else "error", code_index, f"{error.ename}: {error.evalue}")
    finally:
        client.finish_cell(cells[index], index)
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
