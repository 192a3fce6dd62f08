"""Parse a snippet: a jupytext percent-format `.py` file with named cells and an optional header.

# ---
# data:                              # files under KERAS_HOME the snippet reads (cache key)
#   - datasets/airline-passengers.csv          # from the data mirror only
#   - file: datasets/shakespeare.txt           # or downloaded, and checked against its hash
#     origin: https://storage.googleapis.com/download.tensorflow.org/data/shakespeare.txt
#     sha256: 86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed
# timeout: 120                       # seconds for the whole snippet (default: config)
# tolerance: 0.0001                  # relative; tighter than make verify-results' 0.003
# resources: {cpus: 2, gpus: 1, memory: 6GiB}  # what one run needs (defaults: resources.py)
# serial: true                       # run alone, never beside another snippet
# ---

# %% load-data
...
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import yaml

from ..errors import AuthoringError, Location
from . import yaml_lines
from .needs import Needs, parse_needs

if TYPE_CHECKING:
    import nbformat

CELL_NAME = re.compile(r"[A-Za-z0-9_-]+")
SNIPPET_NAME = CELL_NAME  # written into pages and URLs: nothing to escape
# The relative difference `make verify-results` accepts between a committed number and its re-run,
# and the most a header may declare: what reproduction on another machine needs (README,
# "Tolerance"), so that no header can make a forged number pass.
MAX_TOLERANCE = 0.003
HEADER_KEYS = ("data", "timeout", "tolerance", "resources", "serial")
DATA_KEYS = ("file", "origin", "sha256")
DATA_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
SHA256 = re.compile(r"[0-9a-f]{64}")
HEADER_OPEN = re.compile(r"#\s*---\s*")
PARSE_FORMAT = 1  # bump when Snippet's fields change: cached parses are then ignored


@dataclass(frozen=True)
class Cell:
    """One code cell; `first_line` is the 1-based line of its first source line in the file."""

    index: int
    name: str | None
    source: str
    first_line: int


@dataclass(frozen=True)
class DataFile:
    """A data file the snippet reads: its path under KERAS_HOME, where to download it from
    and its SHA-256 (both optional), and the header line that declares it."""

    name: str
    origin: str | None = None
    sha256: str | None = None
    line: int = 1


@dataclass(frozen=True)
class SnippetHeader:
    """Settings from the snippet's YAML header."""

    data: tuple[DataFile, ...] = ()
    timeout: float | None = None
    tolerance: float | None = None  # relative, for values that vary from run to run
    needs: Needs = field(default_factory=Needs)  # `resources:` and `serial:`

    @property
    def data_names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.data)


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


def load_snippet(path: Path, cache: Path | None = None) -> Snippet:
    """Read and validate a snippet file; raise AuthoringError naming file and line. With
    `cache` (a folder), a snippet parsed before is read from there (a build that executes
    nothing parses nothing)."""
    if not SNIPPET_NAME.fullmatch(path.stem):
        raise AuthoringError(
            f"snippet file name {path.stem!r} may only use letters, digits, '_' and '-'",
            Location(path),
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuthoringError("snippet file does not exist", Location(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise AuthoringError(f"cannot read snippet: {error}", Location(path)) from error
    if cache is None:
        return _parsed(path, text)
    entry = cache / f"{_parse_key(path, text)}.json"
    snippet = _from_entry(entry, path, text)
    if snippet is None:
        snippet = _parsed(path, text)  # a bad snippet raises: errors are never cached
        from ..files import atomic_write

        entry.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(entry, json.dumps(_entry(snippet)).encode())
    return snippet


def _parse_key(path: Path, text: str) -> str:
    """What a parse depends on: the file's path and text, this parser's code, jupytext's version."""
    from ..versions import installed_version

    context = [PARSE_FORMAT, str(path), installed_version("jupytext"), _parser_code(), text]
    return hashlib.sha256(json.dumps(context).encode()).hexdigest()


@functools.cache
def _parser_code() -> str:
    """A digest of the code that makes a parse: this module, the header's YAML reader, and the
    needs' parser with its defaults. A parse cached by other code (say, a working tree whose
    default was 2 CPUs) would otherwise fix the kernel's math threads for good."""
    from . import needs

    digest = hashlib.sha256()
    for module in (sys.modules[__name__], yaml_lines, needs):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def _entry(snippet: Snippet) -> dict:
    return {"header": asdict(snippet.header), "cells": [asdict(cell) for cell in snippet.cells]}


def _from_entry(entry: Path, path: Path, text: str) -> Snippet | None:
    """The parsed snippet stored in `entry`; None when missing or unreadable."""
    try:
        stored = json.loads(entry.read_bytes())
        header = stored["header"]
        header = SnippetHeader(
            data=tuple(DataFile(**item) for item in header["data"]),
            timeout=header["timeout"],
            tolerance=header["tolerance"],
            needs=Needs(**header["needs"]),
        )
        cells = tuple(Cell(**cell) for cell in stored["cells"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Snippet(path=path, text=text, header=header, cells=cells)


@functools.lru_cache(maxsize=512)
def _parsed(path: Path, text: str) -> Snippet:
    """The snippet `text` read from `path`, parsed (jupytext takes ~20 ms a file): each `make
    serve` rebuild re-reads every snippet, and only an edited one is parsed again."""
    import jupytext  # here: its import pulls in Jupyter's server and client

    notebook = jupytext.reads(text, fmt="py:percent")
    header = SnippetHeader()
    if (
        notebook.cells
        and notebook.cells[0].cell_type == "raw"
        and notebook.cells[0].source.startswith("---")
    ):
        first = next(
            (n for n, line in enumerate(text.splitlines(), 1) if HEADER_OPEN.fullmatch(line)), 1
        )
        header = _parse_header(notebook.cells.pop(0).source, path, first)
    cells = _code_cells(notebook, text.splitlines(), path)
    return Snippet(path=path, text=text, header=header, cells=cells)


def _parse_header(source: str, path: Path, first: int) -> SnippetHeader:
    """The header whose `# ---` is on line `first`; each value is checked at its key's line."""
    values, nodes = _header_yaml(source, path, first)
    offset = first + 1  # YAML line 0 is the file line after the opening '# ---'
    where = {key: Location(path, pair[0].start_mark.line + offset) for key, pair in nodes.items()}
    unknown = [key for key in [*where, *values] if key not in HEADER_KEYS]  # lined ones first
    if unknown:
        raise AuthoringError(
            f"unknown snippet header key {unknown[0]!r}; allowed: {', '.join(HEADER_KEYS)}",
            where.get(unknown[0], Location(path, first)),
        )
    data: tuple[DataFile, ...] = ()
    if "data" in values:
        lines = [item.start_mark.line + offset for item in yaml_lines.item_nodes(nodes["data"][1])]
        data = _data_files(values["data"], lines, where["data"])
    timeout = tolerance = None
    if "timeout" in values:
        what = "snippet header 'timeout' (seconds)"
        timeout = yaml_lines.check_timeout(values["timeout"], what, where["timeout"])
    if "tolerance" in values:
        what = "snippet header 'tolerance' (relative)"
        tolerance = yaml_lines.check_number(
            values["tolerance"], what, where["tolerance"], low=0, high=MAX_TOLERANCE, low_open=False
        )
    needs = parse_needs(
        values.get("resources"),
        values.get("serial", False),
        where.get("resources", Location(path, first)),
        where.get("serial", Location(path, first)),
    )
    return SnippetHeader(data=data, timeout=timeout, tolerance=tolerance, needs=needs)


def _header_yaml(source: str, path: Path, first: int) -> tuple[dict, dict[str, tuple]]:
    """The header's mapping and its key nodes; jupytext gives one source line per file line."""
    body = source.splitlines()[1:]
    if body and body[-1].strip() == "---":
        body.pop()
    try:
        values, node = yaml_lines.load("\n".join(body))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + first + 1 if mark else first
        raise AuthoringError(f"malformed snippet header: {error}", Location(path, line)) from None
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise AuthoringError("snippet header must be a YAML mapping", Location(path, first))
    return values, yaml_lines.key_nodes(node)


def _data_files(value: object, lines: list[int], where: Location) -> tuple[DataFile, ...]:
    """The `data:` entries (a name, a list of names and mappings), each checked at its line."""
    entries = value if isinstance(value, list) else [value]
    if len(entries) != len(lines):
        raise AuthoringError("header 'data' must be a file name or a list of them", where)
    files: dict[str, DataFile] = {}
    for entry, line in zip(entries, lines, strict=True):
        item = _data_file(entry, Location(where.path, line))
        if item.name in files:
            raise AuthoringError(
                f"data file {item.name!r} is declared twice (first on line "
                f"{files[item.name].line})",
                Location(where.path, line),
            )
        files[item.name] = item
    return tuple(files.values())


def _data_file(entry: object, where: Location) -> DataFile:
    """One `data:` entry: a name, or a mapping with `file:` and optional `origin:`, `sha256:`."""
    if isinstance(entry, str):
        entry = {"file": entry}
    if not isinstance(entry, dict) or "file" not in entry:
        raise AuthoringError(
            f"a 'data' entry must be a file name or a mapping with 'file:', not {entry!r}", where
        )
    unknown = [key for key in entry if key not in DATA_KEYS]
    if unknown:
        raise AuthoringError(
            f"unknown key {unknown[0]!r} in a 'data' entry; allowed: {', '.join(DATA_KEYS)}",
            where,
        )
    name, origin, sha256 = entry["file"], entry.get("origin"), entry.get("sha256")
    if not _safe_data_name(name):
        raise AuthoringError(
            f"data file name {name!r} must be a relative path of at most 200 characters whose "
            "parts use only letters, digits, '.', '_' and '-' (no '.' or '..' parts)",
            where,
        )
    if origin is not None and not _web_url(origin):
        raise AuthoringError(f"data 'origin' {origin!r} must be an https:// or http:// URL", where)
    if sha256 is not None and not (isinstance(sha256, str) and SHA256.fullmatch(sha256)):
        raise AuthoringError(f"data 'sha256' {sha256!r} must be 64 lowercase hex digits", where)
    if origin is not None and sha256 is None:
        # A download is only trusted when it matches the hash the author saw.
        raise AuthoringError(f"data file {name!r} has an 'origin' but no 'sha256'", where)
    return DataFile(name=name, origin=origin, sha256=sha256, line=where.line or 1)


def _safe_data_name(name: object) -> bool:
    """A relative POSIX path that stays under KERAS_HOME however it is joined."""
    if not isinstance(name, str) or not name or len(name) > 200:
        return False
    parts = name.split("/")
    return all(DATA_SEGMENT.fullmatch(part) and part not in (".", "..") for part in parts)


def _web_url(origin: object) -> bool:
    if not isinstance(origin, str) or not origin.startswith(("https://", "http://")):
        return False
    if any(char.isspace() or ord(char) < 32 for char in origin):
        return False
    try:
        return bool(urlsplit(origin).hostname)
    except ValueError:  # e.g. a malformed IPv6 address
        return False


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
