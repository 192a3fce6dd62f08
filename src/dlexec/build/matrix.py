"""`make verify`: every snippet on every Keras backend, and with further seeds where a claim rests
on it; the values, histories and provenance of each run stored beside the main result.

`results/<snippet>/matrix.json` maps a variant's name (`jax`, `torch`, `tensorflow+seed1`) to
what that run gave, or the error it failed with; a backend's record keeps its full outputs for
the page's backend tabs (one recorded before records kept them runs again). It is committed
with the main result, keyed per variant (`variants.variant_key`), and written atomically under
a lock. A variant whose key is unchanged is not run again, a failure included (the snippet's
code raised: the same inputs fail the same way), so a second `make verify` with nothing changed
executes nothing. A run stopped by its time limit, its memory claim or a dead kernel says as
much about the machine as about the code: it is reported, not recorded, and runs again next
time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backends import Variant
from ..build.scheduling import gathered
from ..errors import EngineError, Location
from ..files import read_plain
from ..sources.datasets import fetch
from ..sources.expectations import document_expectations
from ..sources.posts import PostDocument
from ..store.compare import recheck_problems
from ..store.keys import KeyInputs
from ..store.records import (
    MatrixSettings,
    VariantRecord,
    load_matrix,
    store_record,
    tab_outputs,
)
from ..store.results import MATRIX_FILE
from ..store.variants import variant_inputs, variant_key, wanted_variants
from .engine import Engine
from .report import BuildReport, SnippetRun

if TYPE_CHECKING:
    from ..config import EngineConfig
    from ..run.base import Outcome

# Other backends may be slower on a CPU than TensorFlow, whose runs set the snippets' limits.
VARIANT_TIMEOUT_FACTOR = 3


# -- planning and running -----------------------------------------------------------------------


@dataclass(frozen=True)
class PendingVariant:
    run: SnippetRun
    variant: Variant
    inputs: dict[str, Any]
    key: str
    committed: VariantRecord | None = None  # a record to re-check, not trust (`--recheck`)


@dataclass
class MatrixReport:
    """What `make verify` did with the variants: name -> status, and the failures."""

    statuses: dict[tuple[Path, Variant], str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(value == status for value in self.statuses.values())

    def summary_line(self) -> str:
        return (
            f"variants: {self.count('executed')} executed, {self.count('reused')} reused, "
            f"{self.count('failed')} failed in {self.seconds:.1f} s"
        )


def missing_backends(backends: Iterable[str]) -> list[str]:
    """The backends whose package is not installed here."""
    return [backend for backend in backends if importlib.util.find_spec(backend) is None]


def claimed_snippets(documents: Iterable[PostDocument]) -> set[str]:
    """Names of the snippets whose values some post's `expect:` claims compare."""
    return {
        name
        for document in documents
        for claim in document_expectations(document)
        for name in claim.snippets()
    }


def plan(
    report: BuildReport,
    settings: MatrixSettings,
    claimed: set[str],
    recheck: frozenset[tuple[str, str]] = frozenset(),
) -> tuple[list[PendingVariant], dict[tuple[Path, Variant], VariantRecord]]:
    """The variants to run (stale or missing, or fresh but named in `recheck` as (result
    folder, variant name)), and the fresh ones already stored."""
    pending, fresh = [], {}
    for path, run in sorted(report.runs.items()):
        if run.result is None or run.status == "failed":
            continue  # the main run failed: its errors are reported already
        stored = load_matrix(run.folder)
        main_inputs = KeyInputs(**run.result.inputs)
        backs_claim = run.snippet.name in claimed
        for variant in wanted_variants(settings.backends, settings.seeds, backs_claim):
            inputs = variant_inputs(main_inputs, variant)
            key = variant_key(inputs)
            record = stored.get(variant)
            if (run.folder.name, variant.name) in recheck and record is not None:
                pending.append(PendingVariant(run, variant, inputs, key, committed=record))
            elif record is not None and record.key == key and not record.lacks_outputs:
                fresh[(path, variant)] = record
            else:
                pending.append(PendingVariant(run, variant, inputs, key))
    return pending, fresh


def run_variants(
    engine: Engine,
    pending: list[PendingVariant],
    report: MatrixReport,
    referrers: Mapping[Path, Location],
) -> None:
    """Execute `pending` on the engine's executor; store each record as its run ends."""
    config = engine.config
    futures: dict[Future[Outcome], PendingVariant] = {}
    for item in sorted(pending, key=lambda item: _run_order(engine, item)):
        future = _submit(engine, item, referrers.get(item.run.snippet.path), report)
        if future is not None:
            futures[future] = item
    for item, outcome, error in gathered(futures):
        relative = config.relative(item.run.snippet.path)
        if outcome is None:  # the kernel could not run it at all: not recorded
            record = VariantRecord(item.variant, item.key, item.inputs, error=str(error))
        else:
            record = _record(item, outcome)
        where = f"{config.relative(item.run.folder).as_posix()}/{MATRIX_FILE} {item.variant.name}"
        differences = recheck_problems(item.committed, record) if item.committed else []
        report.failures += [f"{where}: committed vs re-run: {line}" for line in differences]
        reproduced = item.committed is not None and not differences
        stored = outcome is not None and (outcome.error is None or outcome.error.kind == "error")
        if stored and not reproduced:  # a reproduced record stays as committed (its provenance)
            files = _shown_files(record, outcome)
            store_record(item.run.folder, record, config.root / ".cache" / "locks", files)
        _note(item, record, report, engine.log, relative)


def changed_records(config: EngineConfig, ref: str) -> frozenset[tuple[str, str]]:
    """(result folder, variant) of every matrix record that differs from `ref`'s, or is new:
    a pull request's records are re-run and compared, not trusted because their key fits."""
    from ..git import git

    changed = set()
    for folder in sorted(config.results_dir.iterdir()):
        path = folder / MATRIX_FILE
        if not path.is_file():
            continue
        relative = path.relative_to(config.root).as_posix()
        try:
            before = json.loads(git(config.root, "show", f"{ref}:{relative}"))["variants"]
        except (EngineError, ValueError, KeyError, TypeError):
            before = {}
        try:
            now = json.loads(read_plain(path))["variants"]
        except (OSError, ValueError, KeyError, TypeError):
            now = {}
        changed |= {(folder.name, name) for name in now if now[name] != before.get(name)}
    return frozenset(changed)


def _run_order(engine: Engine, item: PendingVariant) -> tuple[Any, ...]:
    """The engine's order for main runs (widest claim, then longest), then the variant."""
    last = item.run.result.provenance.get("wall_time_s") if item.run.result else None
    seconds = last if isinstance(last, int | float) else None
    return (*engine.run_order(item.run.snippet, seconds), item.variant.name)


def _submit(
    engine: Engine, item: PendingVariant, referrer: Location | None, report: MatrixReport
) -> Future[Outcome] | None:
    from ..run.base import Job

    snippet, config = item.run.snippet, engine.config
    relative = config.relative(snippet.path)
    timeout = engine.timeout(snippet) * VARIANT_TIMEOUT_FACTOR
    try:
        data = fetch(snippet.header.data, config.keras_home, config.data_mirror, relative)
        inputs = KeyInputs(**item.run.result.inputs)
        job = Job(snippet, relative, inputs, data, timeout, item.variant)
        label = f"{relative} on {item.variant.describe()}"
        return engine.submit(job, referrer or Location(relative), label)
    except EngineError as error:
        record = VariantRecord(item.variant, item.key, item.inputs, error=str(error))
        _note(item, record, report, engine.log, relative)
        return None


def _record(item: PendingVariant, outcome: Outcome) -> VariantRecord:
    """What the variant's run gave; a backend's keeps its outputs (a seed's: values only)."""
    result = outcome.result
    histories = [
        {"model": h.model, "epochs": h.epochs, "metrics": h.metrics} for h in result.histories()
    ]
    error = None if outcome.error is None else str(outcome.error)
    shown = not item.variant.seed  # the page's backend tabs show it; a seed's, no one
    cells, shown_files = tab_outputs(result.cells, outcome.files) if shown else ([], {})
    files = {name: hashlib.sha256(content).hexdigest() for name, content in shown_files.items()}
    return VariantRecord(
        item.variant,
        item.key,
        item.inputs,
        values=dict(result.values) if error is None else {},
        histories=histories if error is None else [],
        provenance=dict(result.provenance),
        error=error,
        cells=cells,
        files=files,
    )


def _shown_files(record: VariantRecord, outcome: Outcome) -> dict[str, bytes]:
    """The bytes of the files `record`'s outputs show (none for a further seed)."""
    return {name: outcome.files[name] for name in record.files}


def _note(
    item: PendingVariant,
    record: VariantRecord,
    report: MatrixReport,
    log: Callable[[str], None],
    relative: Path,
) -> None:
    where = f"{relative} on {item.variant.describe()}"
    if record.ok:
        report.statuses[(item.run.snippet.path, item.variant)] = "executed"
        log(f"executed {where}")
        return
    report.statuses[(item.run.snippet.path, item.variant)] = "failed"
    report.failures.append(f"{where} failed: {record.error}")


def verify_matrix(
    engine: Engine,
    posts: list[Path],
    settings: MatrixSettings,
    recheck: frozenset[tuple[str, str]] = frozenset(),
) -> tuple[BuildReport, MatrixReport]:
    """Bring the main results up to date (as a build would), then every variant they need;
    the records in `recheck` are re-run and compared with what is committed."""
    started = time.monotonic()
    missing = missing_backends(settings.backends)
    if missing:
        raise EngineError(
            f"backend(s) not installed: {', '.join(missing)}. `make verify` installs them "
            "(pip install -e '.[backends]'); or choose others with --backends"
        )
    report = engine.prepare(posts)
    matrix = MatrixReport()
    pending, fresh = plan(report, settings, claimed_snippets(report.posts.values()), recheck)
    for entry in fresh:
        matrix.statuses[entry] = "reused"
    try:
        referrers = {path: Location(path) for path in report.runs}
        run_variants(engine, pending, matrix, referrers)
    finally:
        engine.close()
    for (path, variant), record in fresh.items():
        if not record.ok:
            matrix.statuses[(path, variant)] = "failed"
            relative = engine.config.relative(path)
            matrix.failures.append(f"{relative} on {variant.describe()} failed: {record.error}")
    matrix.seconds = time.monotonic() - started
    return report, matrix
