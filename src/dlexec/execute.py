"""Run one snippet in a fresh Jupyter kernel and return a record of what happened.

Each snippet gets its own kernel process (TensorFlow state and GPU memory die with it), a
temporary working directory, a scrubbed environment, no stdin, and one deadline for all cells.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from .clean import TF_NOISE
from .snippets import Snippet

SETUP_CODE = "import dlexec._kernel as _dlexec_kernel\n_dlexec_kernel.install()"
TEARDOWN_CODE = "_dlexec_kernel.publish_values(globals())"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE|AUTH", re.I)


@dataclass(frozen=True)
class Failure:
    """Why a run stopped: `kind` is 'error', 'timeout' or 'died'; `cell` is the code cell index."""

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
    notebook: nbformat.NotebookNode = field(default=None, repr=False)


def scrubbed_environment(keras_home: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without anything that looks like a secret, plus KERAS_HOME."""
    source = dict(os.environ if environ is None else environ)
    env = {name: value for name, value in source.items() if not SECRET_NAME.search(name)}
    env["KERAS_HOME"] = str(keras_home)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("MPLBACKEND", None)  # the kernel's inline backend captures figures
    return env


def run_snippet(snippet: Snippet, keras_home: Path, timeout: float) -> Execution:
    """Execute all code cells of `snippet` in order, stopping at the first failure."""
    notebook = _notebook(snippet)
    with tempfile.TemporaryDirectory(prefix="dlexec-") as workdir:
        client = NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=timeout,
            allow_errors=False,
            coalesce_streams=True,
            resources={"metadata": {"path": workdir}},
        )
        # The kernel's own stderr (TensorFlow's C++ logs, crash messages) goes to a log file,
        # not the build's terminal; a crash report quotes its end.
        log_path = Path(workdir) / "kernel.log"
        with (
            log_path.open("w") as log,
            client.setup_kernel(
                env=scrubbed_environment(keras_home), cwd=workdir, stdout=log, stderr=log
            ),
        ):
            execution = _run_cells(client, notebook, timeout)
        if execution.failure and execution.failure.kind == "died":
            failure = execution.failure
            detail = _tail(log_path)
            message = (
                f"{failure.message}; end of the kernel's log:\n{detail}"
                if detail
                else failure.message
            )
            execution = replace(execution, failure=replace(failure, message=message))
        return execution


def _tail(path: Path, lines: int = 5) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    kept = [line for line in text.splitlines() if line.strip() and not TF_NOISE.match(line)]
    return "\n".join(kept[-lines:])


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
    client: NotebookClient, notebook: nbformat.NotebookNode, timeout: float
) -> Execution:
    cells = notebook.cells
    failure = _run_cell(client, cells, 0, timeout, time.monotonic() + timeout, setup=True)
    started = time.monotonic()
    deadline = started + timeout
    for index in range(1, len(cells) - 1):
        if failure:
            break
        failure = _run_cell(client, cells, index, timeout, deadline)
    wall_time = time.monotonic() - started
    if not failure:
        failure = _run_cell(client, cells, len(cells) - 1, 60, time.monotonic() + 60, setup=True)
    return Execution(
        cell_outputs=[list(cell.outputs) for cell in cells[1:-1]],
        setup_outputs=list(cells[0].outputs),
        teardown_outputs=list(cells[-1].outputs),
        wall_time=wall_time,
        failure=failure,
        notebook=notebook,
    )


def _run_cell(
    client: NotebookClient,
    cells: list,
    index: int,
    limit: float,
    deadline: float,
    setup: bool = False,
) -> Failure | None:
    """Run one cell before `deadline` (the snippet's `limit` s); return a Failure, never raise."""
    code_index = index - 1  # index among the snippet's own code cells
    client.timeout = max(1, int(deadline - time.monotonic() + 0.999))
    try:
        client.execute_cell(cells[index], index)
    except CellTimeoutError:
        return Failure(
            "timeout", code_index, f"did not finish within its time limit of {limit:g} s"
        )
    except DeadKernelError as error:
        return Failure("died", code_index, f"the kernel died while running this cell ({error})")
    except CellExecutionError as error:
        kind = "setup" if setup else "error"
        return Failure(kind, code_index, f"{error.ename}: {error.evalue}")
    return None
