"""What a build did, for everything after it: each snippet's run and every error, as data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..backends import BACKENDS, Variant
from ..errors import EngineError, SnippetFailedError, StaleNotebookError, visible
from ..sources.posts import PostDocument
from ..sources.snippets import Snippet
from ..store.records import VariantRecord, fresh_matrix
from ..store.results import Result


@dataclass(frozen=True)
class SnippetRun:
    """What this build did for one snippet: 'executed', 'reused', 'failed', or 'skipped' (left
    to another shard); a page shows another backend's recorded run of it as a 'variant'."""

    snippet: Snippet
    status: str
    folder: Path
    result: Result | None = None
    error: EngineError | None = None
    seconds: float = 0.0


@dataclass
class BuildReport:
    """Outcome of preparing a set of posts: snippet runs, references and every error found."""

    runs: dict[Path, SnippetRun] = field(default_factory=dict)
    posts: dict[Path, PostDocument] = field(default_factory=dict)
    errors: list[EngineError] = field(default_factory=list)
    seconds: float = 0.0
    backends: tuple[str, ...] = BACKENDS  # every snippet runs on each (`make verify`)
    checked: Path | None = None  # where file contents found sound are remembered (a cache)
    root: Path | None = None  # the project's folder: pages name files relative to it
    _matrices: dict[Path, dict[Variant, VariantRecord]] = field(default_factory=dict, repr=False)
    # A main history's card file name -> (seed runs, panel key -> band SVG), once drawn.
    bands: dict[str, tuple[int, dict[str, Path]]] = field(default_factory=dict, repr=False)

    def matrix(self, run: SnippetRun) -> Mapping[Variant, VariantRecord]:
        """The variant records `make verify` stored for the run's current result, read once
        per build (every table, placeholder and claim of every post reads them)."""
        if run.result is None:
            return {}
        if run.folder not in self._matrices:
            self._matrices[run.folder] = fresh_matrix(run.folder, run.result, self.checked)
        return self._matrices[run.folder]

    def count(self, status: str) -> int:
        return sum(run.status == status for run in self.runs.values())

    def summary_line(self) -> str:
        skipped = self.count("skipped")
        others = f", {skipped} left to other shards" if skipped else ""
        return (
            f"snippets: {self.count('executed')} executed, {self.count('reused')} reused, "
            f"{self.count('failed')} failed{others} in {self.seconds:.1f} s"
        )

    def error_texts(self) -> list[str]:
        """Each error as it is shown to the author: location, message, then any traceback."""
        return [error_text(e) for e in self.errors]

    def error_summary(self, relative: Callable[[Path], Path], serving: bool = False) -> str:
        """What a build says about its errors: the count of snippet errors (every error but a
        stale post notebook) and each in full, then the stale post notebooks (`relative` makes
        their paths the project's) with how to bring them up to date."""
        stale = [e for e in self.errors if isinstance(e, StaleNotebookError)]
        others = [e for e in self.errors if not isinstance(e, StaleNotebookError)]
        parts = []
        if others:
            where = ", shown in the pages" if serving else ""
            details = "\n\n".join(error_text(e) for e in others)
            parts.append(f"{len(others)} snippet error(s){where}:\n{details}")
        if stale:
            names = ", ".join(relative(e.notebook).as_posix() for e in stale)
            folders = sorted({relative(e.notebook.parent).as_posix() for e in stale})
            noun = "stale notebook" if len(stale) == 1 else "stale notebooks"
            parts.append(
                f"{len(stale)} {noun}: {names} — run `make site` and commit "
                f"{', '.join(f'{folder}/' for folder in folders)}"
            )
        return "\n\n".join(parts)

    def timing_lines(self) -> list[str]:
        """Snippets that ran in this build, slowest first."""
        ran = [run for run in self.runs.values() if run.status in ("executed", "failed")]
        return [
            visible(f"{run.seconds:7.1f} s  {run.snippet.path.name} ({run.status})")
            for run in sorted(ran, key=lambda run: run.seconds, reverse=True)
        ]

    def snippet_named(self, name: str) -> SnippetRun | None:
        return next((run for run in self.runs.values() if run.snippet.name == name), None)


def error_text(error: EngineError) -> str:
    """An error as it is shown to the author: location, message, then any traceback (control
    characters made visible, as `str(error)` makes them: it is printed to a terminal)."""
    return f"{error}\n{visible(getattr(error, 'traceback', ''))}".rstrip()


def failing_cell(snippet: Snippet, error: EngineError) -> str | None:
    """The name of the cell of `snippet` that a run's error points into (its location's line
    is in that cell); None when the error names no line, or the cell has no name."""
    if not isinstance(error, SnippetFailedError) or error.location is None:
        return None
    line = error.location.line
    before = [cell for cell in snippet.cells if line is not None and cell.first_line <= line]
    return max(before, key=lambda cell: cell.first_line).name if before else None
