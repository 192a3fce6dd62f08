"""Training curves over seeds: for a snippet `make verify` ran with further seeds, each fit's
panels show the mean over the seed runs with a min-to-max band and the main run dotted.

The band figures are drawn from the committed matrix's histories when a build first needs
them and kept in `.cache/bands/` under a digest of every run drawn; nothing drawn is
committed, so a forged matrix can change numbers on a curve but never publish a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..backends import Variant
from ..build.report import BuildReport, SnippetRun
from ..files import atomic_write
from ..store.curves import CARD, band_names
from ..store.outputs import HistoryOutput
from ..store.records import VariantRecord, seed_records
from ..store.results import Result

BANDS = "bands"  # the folder under .cache


def seed_histories(
    main: Result, records: Mapping[Variant, VariantRecord]
) -> list[list[HistoryOutput]]:
    """For each fit of the main result: its history, then the same fit's history on each
    recorded seed of the main backend (matched by order and model name)."""
    seeds = [record for _, record in seed_records(records)]
    fits = []
    for index, history in enumerate(main.histories()):
        runs = [history]
        for record in seeds:
            if index < len(record.histories) and record.histories[index]["model"] == history.model:
                other = record.histories[index]
                runs.append(HistoryOutput(other["model"], other["epochs"], other["metrics"]))
        fits.append(runs)
    return fits


def band_plots(
    main: Result, records: Mapping[Variant, VariantRecord], cache: Path
) -> dict[str, tuple[int, dict[str, Path]]]:
    """Main history's card file name -> (seed runs, panel key -> band SVG) for each fit with at
    least two runs; missing figures are drawn into `cache` first."""
    plots = {}
    for runs in seed_histories(main, records):
        if len(runs) < 2 or not runs[0].epochs or CARD not in runs[0].plots:
            continue
        names = band_names(runs)
        paths = {key: cache / name for key, name in names.items()}
        if not all(path.is_file() for path in paths.values()):
            from ..capture.plots import band_files

            cache.mkdir(parents=True, exist_ok=True)
            for name, content in band_files(runs).values():
                atomic_write(cache / name, content)
        plots[runs[0].plots[CARD]] = (len(runs), paths)
    return plots


def publish_bands(report: BuildReport, run: SnippetRun, cache: Path) -> list[Path]:
    """The run's curves over seeds (drawn into `cache` if new), noted in the report."""
    bands = band_plots(run.result, report.matrix(run), cache)
    report.bands |= bands
    return [path for _, panels in bands.values() for path in panels.values()]


def run_assets(report: BuildReport, run: SnippetRun, cache: Path) -> list[Path]:
    """Every file the run's outputs show: its result's, each backend tab's (verified with the
    matrix) and its curves over seeds (drawn into `cache` if new)."""
    assert run.result is not None
    shown = set(run.result.files)
    shown.update(name for record in report.matrix(run).values() for name in record.files)
    return [run.folder / name for name in sorted(shown)] + publish_bands(report, run, cache)


def band_of(report: BuildReport, history: HistoryOutput) -> tuple[int, dict[str, str]] | None:
    """(seed runs, panel key -> file name) of a history's curves over seeds, if drawn."""
    found = report.bands.get(history.plots.get(CARD, ""))
    return None if found is None else (found[0], {k: p.name for k, p in found[1].items()})
