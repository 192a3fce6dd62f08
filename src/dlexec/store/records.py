"""`matrix.json` beside a result: one record per other backend and seed (`make verify`),
held to the engine's schema when read (a pull request can commit one).

A backend's record keeps that run's full outputs (its cells, as a result does): the page shows
them in the embed's backend tabs. Their figures live in the result's folder beside the main
run's, named by content like every result file, so a figure that two runs drew alike is stored
once. A further seed's record keeps only values and histories: pages show seeds as intervals
and bands, never one by one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..backends import BACKENDS, MAIN, Variant
from ..files import atomic_write, lock_path, read_plain
from . import result_checks
from .curves import CARD
from .keys import KeyInputs
from .outputs import HistoryOutput, ImageOutput
from .results import (
    MATRIX_FILE,
    CellResult,
    Result,
    cells_from_json,
    cells_to_json,
    remove_unreferenced,
)

FORMAT = 1


MAIN_FIELDS = tuple(f.name for f in fields(KeyInputs))


@dataclass(frozen=True)
class VariantRecord:
    """What one variant's run gave: the values it published, its training histories (model,
    epochs, metrics) and provenance; or, when it failed, `error` (the message and traceback).
    A backend's record also keeps its `cells` (outputs) and the `files` (name -> sha256) they
    show, beside the main result's."""

    variant: Variant
    key: str
    inputs: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    histories: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cells: list[CellResult] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def lacks_outputs(self) -> bool:
        """A backend's run recorded before records kept outputs: the tabs need it re-run."""
        return not self.variant.seed and not self.cells

    def to_json(self) -> dict[str, Any]:
        document = {**asdict(self), "cells": cells_to_json(self.cells)}
        document["variant"] = self.variant.name
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> VariantRecord:
        cells = cells_from_json(document.get("cells", []))
        return cls(**{**document, "variant": Variant.parse(document["variant"]), "cells": cells})


def load_matrix(folder: Path, checked: Path | None = None) -> dict[Variant, VariantRecord]:
    """The variant records stored in `folder`; an unreadable file counts as none (they run
    again), and so does one whose outputs name a file that is not as the engine writes it.
    `checked`: where a build remembers file contents already found sound."""
    try:
        document = json.loads(read_plain(folder / MATRIX_FILE, result_checks.MAX_RESULT_BYTES))
        if result_checks.structure_problem(document, "matrix", checked):
            return {}  # committed by a pull request: held to the engine's form like a result
        records = [VariantRecord.from_json(entry) for entry in document["variants"].values()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    if any(_files_problem(folder, record, checked) for record in records):
        return {}
    return {record.variant: record for record in records}


def _files_problem(folder: Path, record: VariantRecord, checked: Path | None) -> str | None:
    """Why the files a record's outputs show are not the engine's (None when they are)."""
    problem = result_checks.reference_problem(record.cells, record.files, panels_only=True)
    for name, expected in record.files.items():
        problem = problem or result_checks.read_file(folder, name, expected, checked)[1]
    return problem


def made_from(record: VariantRecord, main: Result) -> bool:
    """Was the variant run from the same code, data and engine as the main result? (Not its
    backend's version: a checkout without that backend can still read what was recorded.)"""
    return all(record.inputs.get(name) == main.inputs.get(name) for name in MAIN_FIELDS)


def fresh_matrix(
    folder: Path, main: Result, checked: Path | None = None
) -> dict[Variant, VariantRecord]:
    """The variant records of `folder` made from its current main result."""
    return {v: r for v, r in load_matrix(folder, checked).items() if made_from(r, main)}


def seed_records(records: Mapping[Variant, VariantRecord]) -> list[tuple[int, VariantRecord]]:
    """(seed offset, record) of each further seed that ran on the main backend, in order."""
    return [
        (variant.seed, record)
        for variant, record in sorted(records.items())
        if variant.backend == MAIN.backend and variant.seed and record.ok
    ]


def tab_outputs(
    cells: list[CellResult], files: Mapping[str, bytes]
) -> tuple[list[CellResult], dict[str, bytes]]:
    """A run's outputs as a backend's record keeps them, and the files they show: each
    history's panels, without the notebook's card (no notebook shows another backend)."""
    kept, used = [], set()
    for cell in cells:
        outputs = []
        for output in cell.outputs:
            if isinstance(output, HistoryOutput):
                output = replace(output, plots={k: v for k, v in output.plots.items() if k != CARD})
                used.update(output.plots.values())
            elif isinstance(output, ImageOutput):
                used.add(output.file)
            outputs.append(output)
        kept.append(replace(cell, outputs=outputs))
    return kept, {name: content for name, content in files.items() if name in used}


def store_record(
    folder: Path, record: VariantRecord, locks: Path, files: Mapping[str, bytes] | None = None
) -> None:
    """Add or replace one variant's record in `folder`'s matrix.json (other builds may be
    storing other variants of the same snippet: read, change and write under a lock). The
    `files` its outputs show are written first, then the matrix, then what no run names any
    more is removed: an interrupted store leaves the previous matrix whole."""
    from filelock import FileLock

    with FileLock(lock_path(locks, folder, ".matrix.lock")):
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in sorted((files or {}).items()):
            target = folder / name
            if not (target.is_file() and target.read_bytes() == content):
                atomic_write(target, content)
        records = load_matrix(folder)
        records[record.variant] = record
        document = {
            "format": FORMAT,
            "variants": {r.variant.name: r.to_json() for r in sorted(records.values(), key=_order)},
        }
        text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        atomic_write(folder / MATRIX_FILE, text.encode())
        remove_unreferenced(folder)


def _order(record: VariantRecord) -> tuple[int, str, int]:
    return (BACKENDS.index(record.variant.backend), record.variant.backend, record.variant.seed)


@dataclass(frozen=True)
class MatrixSettings:
    """Which backends every snippet runs on, and how many further seeds a claimed one gets."""

    backends: tuple[str, ...] = BACKENDS
    seeds: int = 2
