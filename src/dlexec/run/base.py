"""The executor interface: a Job in, an Outcome out, whoever runs it (local pool, Ray)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ..backends import Variant
from ..capture import cells as capture
from ..errors import Location, SnippetFailedError
from ..progress import Watcher
from ..sources.needs import Needs
from ..sources.snippets import Snippet
from ..store.keys import KeyInputs
from ..store.results import CellResult, Result
from .kernel import Execution, KernelRun, Launch
from .resources import kernel_env
from .sandbox import Sandbox

CELL_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")


URL_FETCH_FAILURE = re.compile(r"URL fetch failure on (\S+):\s")


FIRST_SNIPPET_EXECUTION_COUNT = 2  # the hidden setup cell is In[1]


@dataclass(frozen=True)
class Job:
    """One snippet to execute. `data` maps each declared name to its verified file here, on the
    build machine; `relative` is the snippet's path in the project, as results record it.
    `variant` runs it on another backend or seed (`make verify`); None: the main run."""

    snippet: Snippet
    relative: Path
    inputs: KeyInputs
    data: Mapping[str, Path]
    timeout: float
    variant: Variant | None = None

    @property
    def needs(self) -> Needs:
        return self.snippet.header.needs


@dataclass(frozen=True)
class Outcome:
    """What executing a job gave, whoever executed it: the result record and its files (stored
    only when `error` is None), and the seconds the run held its resources."""

    result: Result
    files: Mapping[str, bytes]
    error: SnippetFailedError | None
    seconds: float


class Executor(Protocol):
    """Runs jobs; `submit` returns at once."""

    description: str

    def submit(self, job: Job, watcher: Watcher) -> Future[Outcome]: ...
    def close(self, cancel: bool = False) -> None: ...


def start_kernel(
    job: Job, sandbox: Sandbox | None, gpus: tuple[str, ...], env: Mapping[str, str] | None = None
) -> KernelRun:
    """A KernelRun for `job`, fitted to its needs and the GPUs it was given (not started);
    `env` adds variables (a Ray worker points PYTHONPATH at the engine it was sent)."""
    variant = job.variant.env() if job.variant else {}
    launch = Launch(
        env={**kernel_env(job.needs, gpus), **variant, **(env or {})},
        memory_limit=job.needs.memory,
    )
    return KernelRun(job.snippet, job.data, job.timeout, sandbox, launch)


def outcome_of(job: Job, execution: Execution, seconds: float, executor: str) -> Outcome:
    """The result record of a finished run (captured outputs, curves, provenance)."""
    result, files = build_result(job, execution, executor)
    error = failure_error(job, execution) if execution.failure else None
    return Outcome(result, files, error, seconds)


def build_result(job: Job, execution: Execution, executor: str) -> tuple[Result, dict[str, bytes]]:
    """Capture outputs, draw training curves, and assemble the result record."""
    files: dict[str, bytes] = {}
    cells = []
    budget = capture.FileBudget()  # one per snippet: figures are bounded across its cells
    for cell, raw_outputs in zip(job.snippet.cells, execution.cell_outputs, strict=True):
        captured = capture.capture_cell(raw_outputs, budget)
        files.update(captured.files)
        outputs = [_with_curves(output, files) for output in captured.outputs]
        cells.append(CellResult(cell.index, cell.name, outputs))
    provenance = {
        **capture.provenance(execution.setup_outputs + execution.teardown_outputs),
        "executor": executor,
        "wall_time_s": round(execution.wall_time, 1),
        "cell_wall_time_s": [round(seconds, 1) for seconds in execution.cell_times],
        "peak_memory_mib": round(execution.peak_memory / (1 << 20)),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    result = Result(
        snippet=job.relative.as_posix(),
        key=job.inputs.key,
        inputs=job.inputs.__dict__.copy(),
        provenance=provenance,
        cells=cells,
        values=capture.values(execution.teardown_outputs),
    )
    return result, files


def _with_curves(output: capture.Output, files: dict[str, bytes]) -> capture.Output:
    if not isinstance(output, capture.HistoryOutput) or not output.epochs:
        return output
    from ..capture.plots import curve_files

    plots = {}
    for palette, (name, content) in curve_files(output).items():
        files[name] = content
        plots[palette] = name
    return replace(output, plots=plots)


def failure_error(job: Job, execution: Execution) -> SnippetFailedError:
    """A SnippetFailedError located at the snippet line the traceback points to."""
    failure = execution.failure
    assert failure is not None
    snippet, relative = job.snippet, job.relative
    if failure.kind == "setup":
        return SnippetFailedError(
            f"the engine's kernel setup failed: {failure.message}", Location(relative), kind="setup"
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
    return SnippetFailedError(message, Location(relative, line), traceback, failure.kind)


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
