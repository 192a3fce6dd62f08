"""Redraw the training-curve figures of stored results from their recorded histories.

Run it after a change to `src/dlexec/capture/plots.py`: the figures are drawn when a result is
stored, and a result stays fresh while its snippet, data and versions do (see `store/keys.py`),
so a new way of drawing reaches committed results only through this script or a re-run. Nothing is
executed; each result is written back atomically with its new figures and checksums.

    .venv/bin/python scripts/redraw_curves.py [results/<snippet> ...]   # default: every result
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from dlexec.capture.plots import curve_files
from dlexec.store.outputs import HistoryOutput
from dlexec.store.results import CellResult, load_result, save_result

ROOT = Path(__file__).resolve().parent.parent


def redraw(folder: Path) -> bool:
    """Redraw the curves of the result in `folder`; True when a figure changed."""
    result = load_result(folder)
    if result is None:
        return False
    kept = {name: (folder / name).read_bytes() for name in result.files}
    curves = {name for name in kept if name.startswith("curves-")}
    files = {name: content for name, content in kept.items() if name not in curves}
    cells = []
    for cell in result.cells:
        outputs = []
        for output in cell.outputs:
            if isinstance(output, HistoryOutput) and output.epochs:
                drawn = curve_files(output)
                files.update(dict(drawn.values()))
                output = replace(output, plots={key: name for key, (name, _) in drawn.items()})
            outputs.append(output)
        cells.append(CellResult(cell.index, cell.name, outputs))
    if files == kept:
        return False
    save_result(folder, replace(result, cells=cells), files)
    return True


def main(arguments: list[str]) -> int:
    every = sorted(path.parent for path in ROOT.glob("results/*/result.json"))
    folders = [Path(argument) for argument in arguments] or every
    for folder in folders:
        print(f"{folder}: {'redrawn' if redraw(folder) else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
