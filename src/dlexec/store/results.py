"""Committed results: one folder per snippet, `result.json` plus the figures it names.

Writes are atomic: figures first (content-addressed names, each renamed into place), then
`result.json` replaces the old one in a single rename, then unreferenced files are removed.
An interrupted write leaves the previous result intact. `result.json` carries a checksum of its
own content and of every file, so a truncated or hand-edited result is detected on load.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..files import atomic_write, read_plain
from . import result_checks
from .outputs import ErrorOutput, HistoryOutput, ImageOutput, Output, TextOutput

RESULT_FILE = "result.json"
MATRIX_FILE = "matrix.json"  # the snippet's other backends and seeds (`matrix`), kept on save
OUTPUT_TYPES = {
    cls.__dataclass_fields__["type"].default: cls
    for cls in (TextOutput, ImageOutput, HistoryOutput, ErrorOutput)
}


@dataclass(frozen=True)
class CellResult:
    """Outputs of one code cell of the snippet."""

    index: int
    name: str | None
    outputs: list[Output]


@dataclass(frozen=True)
class Result:
    """Everything a run of one snippet produced, and the inputs of its cache key."""

    snippet: str
    key: str
    inputs: dict[str, Any]
    provenance: dict[str, Any]
    cells: list[CellResult]
    values: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256

    def cell_times(self) -> dict[int, float]:
        """Cell index -> seconds it ran, as the run recorded them (older runs recorded none)."""
        recorded = self.provenance.get("cell_wall_time_s") or []
        return {i: t for i, t in enumerate(recorded) if isinstance(t, int | float)}

    def histories(self) -> list[HistoryOutput]:
        return [o for cell in self.cells for o in cell.outputs if isinstance(o, HistoryOutput)]


class CorruptResult(Exception):
    """A stored result that cannot be trusted (missing file, bad checksum, bad JSON)."""


def load_result(folder: Path, checked: Path | None = None) -> Result | None:
    """The stored result in `folder`, None when there is none; CorruptResult when it is not
    exactly what the engine writes (see `result_checks`: a committed result is untrusted).
    `checked`: where a build remembers file contents already found sound."""
    path = folder / RESULT_FILE
    if folder.is_symlink():
        raise CorruptResult(f"{folder}: a symlink, not a result folder")
    if not path.exists() and not path.is_symlink():
        return None
    try:
        document = json.loads(read_plain(path, result_checks.MAX_RESULT_BYTES))
        checksum = document.pop("checksum")
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as error:
        raise CorruptResult(f"{path}: unreadable ({error})") from None
    if checksum != _checksum(document):
        raise CorruptResult(f"{path}: checksum mismatch (edited or truncated)")
    problem = result_checks.structure_problem(document, "result", checked)
    if problem:
        raise CorruptResult(f"{path}: not a result the engine writes ({problem})")
    result = _from_json(document)
    problem = result_checks.reference_problem(result.cells, result.files)
    for name, expected in result.files.items():
        problem = problem or result_checks.read_file(folder, name, expected, checked)[1]
    if problem:
        raise CorruptResult(f"{path}: {problem}")
    return result


def save_result(folder: Path, result: Result, files: dict[str, bytes]) -> Result:
    """Write `files`, then `result`, atomically into `folder`; return it with file checksums."""
    folder.mkdir(parents=True, exist_ok=True)
    checksums = {}
    for name, content in sorted(files.items()):
        checksums[name] = _sha256(content)
        target = folder / name
        if not (target.is_file() and _sha256(target.read_bytes()) == checksums[name]):
            atomic_write(target, content)
    result = Result(**{**_fields(result), "files": checksums})
    document = _to_json(result)
    document["checksum"] = _checksum(document)
    atomic_write(
        folder / RESULT_FILE, (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode()
    )
    remove_unreferenced(folder)
    return result


def copy_result(source: Path, target: Path, checked: Path | None = None) -> Result | None:
    """Copy the verified result in `source` to `target` (atomically); None if there is none."""
    try:
        result = load_result(source, checked)
    except CorruptResult:
        return None
    if result is None:
        return None
    files = {name: (source / name).read_bytes() for name in result.files}
    return save_result(target, result, files)


def _fields(result: Result) -> dict[str, Any]:
    return {name: getattr(result, name) for name in result.__dataclass_fields__}


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _checksum(document: dict[str, Any]) -> str:
    return _sha256(json.dumps(document, sort_keys=True, ensure_ascii=False).encode())


def _to_json(result: Result) -> dict[str, Any]:
    return {**asdict(result), "cells": cells_to_json(result.cells)}


def _from_json(document: dict[str, Any]) -> Result:
    return Result(**{**document, "cells": cells_from_json(document["cells"])})


def cells_to_json(cells: list[CellResult]) -> list[dict[str, Any]]:
    """Plain JSON; long text is split into lines so that diffs of results read well."""
    documents = [asdict(cell) for cell in cells]
    for cell in documents:
        for output in cell["outputs"]:
            for key in ("text", "traceback", "evalue"):
                if key in output:
                    output[key] = output[key].splitlines(keepends=True)
    return documents


def cells_from_json(documents: list[dict[str, Any]]) -> list[CellResult]:
    cells = []
    for cell in documents:
        outputs = []
        for output in cell["outputs"]:
            output = dict(output)
            for key in ("text", "traceback", "evalue"):
                if key in output:
                    output[key] = "".join(output[key])
            outputs.append(OUTPUT_TYPES[output["type"]](**output))
        cells.append(CellResult(cell["index"], cell["name"], outputs))
    return cells


def named_files(path: Path) -> set[str]:
    """The file names a result.json or matrix.json in a folder names, read without checks:
    only to know what to keep when cleaning the folder (never to publish)."""
    try:
        document = json.loads(read_plain(path, result_checks.MAX_RESULT_BYTES))
    except (OSError, ValueError):
        return set()
    maps = [document.get("files")] if path.name == RESULT_FILE else []
    if path.name == MATRIX_FILE and isinstance(document.get("variants"), dict):
        maps = [v.get("files") for v in document["variants"].values() if isinstance(v, dict)]
    return {str(name) for files in maps if isinstance(files, dict) for name in files}


def remove_unreferenced(folder: Path) -> None:
    """Remove the files of `folder` that neither its result nor its matrix names (figures of
    an older run); `folder` is locked by the caller against a concurrent matrix write."""
    keep = named_files(folder / RESULT_FILE) | named_files(folder / MATRIX_FILE)
    for path in folder.iterdir():
        if path.is_file() and path.name not in keep | {RESULT_FILE, MATRIX_FILE}:
            path.unlink(missing_ok=True)
