"""Parse a snippet: a jupytext percent-format `.py` file with named cells and an optional header.

# ---
# data: [datasets/shakespeare.txt]   # files under KERAS_HOME the snippet reads (cache key)
# timeout: 120                       # seconds for the whole snippet (default: config)
# ---

# %% load-data
...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
import yaml

from .errors import AuthoringError, Location

CELL_NAME = re.compile(r"[A-Za-z0-9_-]+")
HEADER_KEYS = {"data", "timeout"}


@dataclass(frozen=True)
class Cell:
    """One code cell; `first_line` is the 1-based line of its first source line in the file."""

    index: int
    name: str | None
    source: str
    first_line: int


@dataclass(frozen=True)
class SnippetHeader:
    """Settings from the snippet's YAML header."""

    data: tuple[str, ...] = ()
    timeout: float | None = None


@dataclass(frozen=True)
class Snippet:
    """A parsed snippet file. `text` is exactly what was read, and what the cache key hashes."""

    path: Path
    text: str
    header: SnippetHeader
    cells: tuple[Cell, ...]

    @property
    def name(self) -> str:
        """The snippet's name: its file stem, used by placeholders (`{{ name.value }}`)."""
        return self.path.stem

    def cell(self, name: str) -> Cell | None:
        """The code cell called `name`, if any."""
        return next((cell for cell in self.cells if cell.name == name), None)


def load_snippet(path: Path) -> Snippet:
    """Read and validate a snippet file; raise AuthoringError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuthoringError("snippet file does not exist", Location(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise AuthoringError(f"cannot read snippet: {error}", Location(path)) from error
    notebook = jupytext.reads(text, fmt="py:percent")
    header = SnippetHeader()
    if (
        notebook.cells
        and notebook.cells[0].cell_type == "raw"
        and notebook.cells[0].source.startswith("---")
    ):
        header = _parse_header(notebook.cells.pop(0).source, path)
    cells = _code_cells(notebook, text.splitlines(), path)
    return Snippet(path=path, text=text, header=header, cells=cells)


def _parse_header(source: str, path: Path) -> SnippetHeader:
    try:
        values = yaml.safe_load(source.strip().strip("-")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark else 1  # +1 for the opening '# ---', +1 for 1-based
        raise AuthoringError(f"malformed snippet header: {error}", Location(path, line)) from None
    if not isinstance(values, dict):
        raise AuthoringError("snippet header must be a YAML mapping", Location(path, 1))
    unknown = set(values) - HEADER_KEYS
    if unknown:
        raise AuthoringError(
            f"unknown snippet header key(s) {sorted(unknown)}; allowed: {sorted(HEADER_KEYS)}",
            Location(path, 1),
        )
    data = values.get("data", [])
    if isinstance(data, str):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        raise AuthoringError("header 'data' must be a list of file names", Location(path, 1))
    timeout = values.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise AuthoringError(
            "header 'timeout' must be a positive number of seconds", Location(path, 1)
        )
    return SnippetHeader(data=tuple(data), timeout=float(timeout) if timeout else None)


def _code_cells(notebook: nbformat.NotebookNode, lines: list[str], path: Path) -> tuple[Cell, ...]:
    """Name and locate the code cells; cell names must be valid and unique."""
    starts = _cell_start_lines(notebook, lines)
    cells: list[Cell] = []
    seen: dict[str, int] = {}
    for nb_cell, start in zip(notebook.cells, starts, strict=True):
        if nb_cell.cell_type != "code":
            continue
        name = nb_cell.metadata.get("title")
        if name is not None:
            name = str(name).strip()
            if not CELL_NAME.fullmatch(name):
                raise AuthoringError(
                    f"cell name {name!r} may only use letters, digits, '_' and '-'",
                    Location(path, max(start - 1, 1)),
                )
            if name in seen:
                raise AuthoringError(
                    f"duplicate cell name {name!r} (first defined on line {seen[name]})",
                    Location(path, max(start - 1, 1)),
                )
            seen[name] = max(start - 1, 1)
        cells.append(Cell(index=len(cells), name=name, source=nb_cell.source, first_line=start))
    return tuple(cells)


def _cell_start_lines(notebook: nbformat.NotebookNode, lines: list[str]) -> list[int]:
    """1-based line of each cell's first source line, found by walking the `# %%` markers."""
    markers = [number for number, line in enumerate(lines, 1) if line.startswith("# %%")]
    if len(notebook.cells) == len(markers) + 1:  # code before the first marker
        markers.insert(0, _header_end(lines))
    starts = []
    for position, (cell, marker) in enumerate(zip(notebook.cells, markers, strict=False)):
        end = markers[position + 1] if position + 1 < len(markers) else len(lines) + 1
        first = cell.source.splitlines()[0] if cell.source.strip() else None
        start = next((n for n in range(marker + 1, end) if lines[n - 1] == first), marker + 1)
        starts.append(start)
    starts.extend([len(lines)] * (len(notebook.cells) - len(starts)))
    return starts


def _header_end(lines: list[str]) -> int:
    """Line number of the header's closing `# ---` (0 when there is no header)."""
    if not lines or lines[0].strip() != "# ---":
        return 0
    return next((n for n in range(2, len(lines) + 1) if lines[n - 1].strip() == "# ---"), 0)
