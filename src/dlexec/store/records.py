"""`matrix.json` beside a result: one record per other backend and seed (`make verify`),
held to the engine's schema when read (a pull request can commit one)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..backends import BACKENDS, MAIN, Variant
from ..files import atomic_write, lock_path, read_plain
from . import result_checks
from .keys import KeyInputs
from .results import MATRIX_FILE, Result

FORMAT = 1


MAIN_FIELDS = tuple(f.name for f in fields(KeyInputs))


@dataclass(frozen=True)
class VariantRecord:
    """What one variant's run gave: the values it published, its training histories (model,
    epochs, metrics) and provenance; or, when it failed, `error` (the message and traceback)."""

    variant: Variant
    key: str
    inputs: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    histories: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["variant"] = self.variant.name
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> VariantRecord:
        return cls(**{**document, "variant": Variant.parse(document["variant"])})


def load_matrix(folder: Path) -> dict[Variant, VariantRecord]:
    """The variant records stored in `folder`; an unreadable file counts as none (they run
    again)."""
    try:
        document = json.loads(read_plain(folder / MATRIX_FILE))
        if result_checks.structure_problem(document, "matrix"):
            return {}  # committed by a pull request: held to the engine's form like a result
        records = [VariantRecord.from_json(entry) for entry in document["variants"].values()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    return {record.variant: record for record in records}


def made_from(record: VariantRecord, main: Result) -> bool:
    """Was the variant run from the same code, data and engine as the main result? (Not its
    backend's version: a checkout without that backend can still read what was recorded.)"""
    return all(record.inputs.get(name) == main.inputs.get(name) for name in MAIN_FIELDS)


def fresh_matrix(folder: Path, main: Result) -> dict[Variant, VariantRecord]:
    """The variant records of `folder` made from its current main result."""
    return {v: r for v, r in load_matrix(folder).items() if made_from(r, main)}


def seed_records(records: Mapping[Variant, VariantRecord]) -> list[tuple[int, VariantRecord]]:
    """(seed offset, record) of each further seed that ran on the main backend, in order."""
    return [
        (variant.seed, record)
        for variant, record in sorted(records.items())
        if variant.backend == MAIN.backend and variant.seed and record.ok
    ]


def store_record(folder: Path, record: VariantRecord, locks: Path) -> None:
    """Add or replace one variant's record in `folder`'s matrix.json (other builds may be
    storing other variants of the same snippet: read, change and write under a lock)."""
    from filelock import FileLock

    with FileLock(lock_path(locks, folder, ".matrix.lock")):
        records = load_matrix(folder)
        records[record.variant] = record
        document = {
            "format": FORMAT,
            "variants": {r.variant.name: r.to_json() for r in sorted(records.values(), key=_order)},
        }
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        atomic_write(folder / MATRIX_FILE, text.encode())


def _order(record: VariantRecord) -> tuple[int, str, int]:
    return (BACKENDS.index(record.variant.backend), record.variant.backend, record.variant.seed)


@dataclass(frozen=True)
class MatrixSettings:
    """Which backends every snippet runs on, and how many further seeds a claimed one gets."""

    backends: tuple[str, ...] = BACKENDS
    seeds: int = 2
