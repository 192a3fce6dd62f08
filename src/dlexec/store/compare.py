"""How a committed result (or matrix record) compares with its re-run: pure functions.

They cover everything that reaches a page or a notebook: values, printed text, histories,
errors and figures (decoded and compared pixel by pixel within `MAX_FIGURE_RMS`). They ignore
what cannot be reproduced: provenance, wall-clock timings in Keras logs, machine-specific
paths, and numbers within a tolerance (rounding on another CPU)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..sources.snippets import MAX_TOLERANCE
from .outputs import ErrorOutput, HistoryOutput, ImageOutput, Output, TextOutput
from .records import VariantRecord
from .results import CellResult, Result

DEFAULT_RELATIVE = MAX_TOLERANCE  # another CPU's kernels, same seeds: up to 0.18% (README)


DEFAULT_ABSOLUTE = 1e-9


MAX_FIGURE_RMS = 8.0  # of 255: a plot redrawn from numbers 0.1% off measures 1-6; 8% off, 17-32


SHOWN = 160  # characters of a differing line shown in a message


# Absolute paths that name the machine or a run's temporary folder, not a result:
# <root>/.cache/keras/... (KERAS_HOME) and /tmp/dlexec-xxxx/... (the run folder of a kernel).
# A path may only start where no path character precedes it: linear time on hostile output.
PATH_START = r"(?<![\w.+@/-])(?:/[\w.+@-]+)*?"


MACHINE_PATHS = (
    (re.compile(PATH_START + r"/\.cache/keras(?=/|\b)"), "$KERAS_HOME"),
    (re.compile(PATH_START + r"/dlexec-\w+/keras(?=/|\b)"), "$KERAS_HOME"),
    (re.compile(PATH_START + r"/dlexec-\w+(?=/|\b)"), "$RUN"),
    (re.compile(r"\b0x[0-9a-fA-F]{6,}\b"), "0x?"),  # object addresses in reprs
)


# Keras logs wall-clock timings ("3s 15ms/step"): compared as "a duration", never by value.
DURATION = r"\d+(?:\.\d+)?(?:s|ms|us|µs|ns)(?:/step|/sample)?(?![\w/])"


# A number not glued to a word on its left (so `conv2d_1` stays a word); `1,234` is one number.
NUMBER = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?"


TOKEN = re.compile(rf"(?<![\w.])(?:(?P<duration>{DURATION})|(?P<number>{NUMBER}))")


@dataclass(frozen=True)
class Tolerance:
    """Two numbers are equal when `math.isclose` says so with these bounds."""

    relative: float = DEFAULT_RELATIVE
    absolute: float = DEFAULT_ABSOLUTE

    def close(self, a: float, b: float) -> bool:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=self.relative, abs_tol=self.absolute)


def tolerance_for(declared: float | None) -> Tolerance:
    """The snippet header's relative `tolerance:` (it may only tighten the default), else the
    default; ValueError beyond the cap (the header parser refuses it first, with its line)."""
    if declared is None:
        return Tolerance()
    if not 0 <= declared <= MAX_TOLERANCE:
        raise ValueError(
            f"header 'tolerance: {declared}' is outside 0..{MAX_TOLERANCE}, "
            "the range verify-results accepts"
        )
    return Tolerance(relative=float(declared))


def neutral(text: str) -> str:
    """`text` with machine-specific paths and object addresses replaced by placeholders."""
    for pattern, placeholder in MACHINE_PATHS:
        text = pattern.sub(placeholder, text)
    return text


def compare_values(
    committed: Mapping[str, Any], rerun: Mapping[str, Any], tolerance: Tolerance
) -> list[str]:
    """One line per value that is missing, extra or different in the re-run."""
    lines = []
    for name in sorted(set(committed) | set(rerun)):
        if name not in rerun:
            lines.append(f"value {name}: committed {committed[name]!r} vs re-run (missing)")
        elif name not in committed:
            lines.append(f"value {name}: committed (missing) vs re-run {rerun[name]!r}")
        elif not same_value(committed[name], rerun[name], tolerance):
            lines.append(f"value {name}: committed {committed[name]!r} vs re-run {rerun[name]!r}")
    return lines


def same_value(a: Any, b: Any, tolerance: Tolerance) -> bool:
    """bool, int and str must be equal (strings up to machine paths); floats within tolerance."""
    if type(a) is not type(b):  # bool is an int, and 3 is not 3.0: the type is part of a value
        return False
    if isinstance(a, float):
        return tolerance.close(a, b)
    if isinstance(a, str):
        return neutral(a) == neutral(b)
    return bool(a == b)


def tokens(line: str) -> list[tuple[str, str]]:
    """(kind, text) pairs: 'number', 'duration' or 'text' (whitespace runs count as one space)."""
    found: list[tuple[str, str]] = []
    position = 0
    for match in TOKEN.finditer(line):
        found.append(("text", line[position : match.start()]))
        kind = "duration" if match["duration"] else "number"
        found.append((kind, match[0]))
        position = match.end()
    found.append(("text", line[position:]))
    return [(kind, " ".join(text.split()) if kind == "text" else text) for kind, text in found]


def same_number(a: str, b: str, tolerance: Tolerance) -> bool:
    """Within tolerance, or one unit apart in the last printed decimal (0.8490 vs 0.8491 is how
    two nearly equal floats can round); integers get no such allowance."""
    x, y = float(a.replace(",", "")), float(b.replace(",", ""))
    if tolerance.close(x, y):
        return True
    exponent = max(_exponent(a), _exponent(b))
    return exponent < 0 and abs(x - y) <= 10.0**exponent * (1 + 1e-9)


def _exponent(number: str) -> int:
    """Decimal place of the last printed digit: -4 for 0.8490, 0 for 113."""
    try:
        exponent = Decimal(number.replace(",", "")).as_tuple().exponent
    except InvalidOperation:
        return 0
    return exponent if isinstance(exponent, int) else 0


def same_line(a: str, b: str, tolerance: Tolerance) -> bool:
    """Same words and punctuation, numbers within tolerance, durations at the same places."""
    left, right = tokens(neutral(a)), tokens(neutral(b))
    if [kind for kind, _ in left] != [kind for kind, _ in right]:
        return False
    for (kind, x), (_, y) in zip(left, right, strict=True):
        if kind == "text" and x != y:
            return False
        if kind == "number" and not same_number(x, y, tolerance):
            return False
    return True


def compare_text(committed: str, rerun: str, tolerance: Tolerance) -> str | None:
    """The first line that differs, as 'line N: committed ... vs re-run ...'; None if none."""
    old, new = committed.splitlines(), rerun.splitlines()
    for number in range(max(len(old), len(new))):
        a = old[number] if number < len(old) else None
        b = new[number] if number < len(new) else None
        if a is None or b is None or not same_line(a, b, tolerance):
            return f"line {number + 1}: committed {_shown(a)} vs re-run {_shown(b)}"
    return None


def _shown(line: str | None) -> str:
    if line is None:
        return "(no such line)"
    return repr(line if len(line) <= SHOWN else line[:SHOWN] + "...")


def compare_history(
    committed: HistoryOutput, rerun: HistoryOutput, tolerance: Tolerance
) -> str | None:
    """Same model, epochs and metric names; every metric at every epoch within tolerance."""
    if committed.model != rerun.model:
        return f"model: committed {committed.model!r} vs re-run {rerun.model!r}"
    if committed.epochs != rerun.epochs:
        return f"epochs: committed {committed.epochs} vs re-run {rerun.epochs}"
    if committed.restored_epoch != rerun.restored_epoch:
        return (
            f"restored epoch: committed {committed.restored_epoch} vs re-run {rerun.restored_epoch}"
        )
    if sorted(committed.metrics) != sorted(rerun.metrics):
        return f"metrics: committed {sorted(committed.metrics)} vs re-run {sorted(rerun.metrics)}"
    for metric, values in committed.metrics.items():
        for epoch, a, b in zip(committed.epochs, values, rerun.metrics[metric], strict=False):
            if not _same_metric(a, b, tolerance):
                return f"{metric} at epoch {epoch}: committed {a!r} vs re-run {b!r}"
        if len(values) != len(rerun.metrics[metric]):
            return (
                f"{metric}: committed {len(values)} entries vs re-run {len(rerun.metrics[metric])}"
            )
    return None


def _same_metric(a: float | None, b: float | None, tolerance: Tolerance) -> bool:
    if a is None or b is None:
        return a is b
    return tolerance.close(a, b)


def compare_error(committed: ErrorOutput, rerun: ErrorOutput, tolerance: Tolerance) -> str | None:
    """Same exception type and message (tracebacks name paths of this machine: not compared)."""
    if committed.ename != rerun.ename:
        return f"exception: committed {committed.ename} vs re-run {rerun.ename}"
    difference = compare_text(committed.evalue, rerun.evalue, tolerance)
    return f"exception message {difference}" if difference else None


def kind(output: Output) -> str:
    """What an output is, for comparing the shape of two cells: 'text(stdout)', 'image(...)'."""
    if isinstance(output, TextOutput):
        return f"text({output.stream})"
    if isinstance(output, ImageOutput):
        return f"image({output.mime})"
    return output.type


def compare_output(committed: Output, rerun: Output, tolerance: Tolerance) -> str | None:
    """Two outputs of the same kind; figures are compared by `figure_problems` (pixels)."""
    if isinstance(committed, TextOutput) and isinstance(rerun, TextOutput):
        return compare_text(committed.text, rerun.text, tolerance)
    if isinstance(committed, HistoryOutput) and isinstance(rerun, HistoryOutput):
        difference = compare_history(committed, rerun, tolerance)
        return f"history of model {committed.model!r}: {difference}" if difference else None
    if isinstance(committed, ErrorOutput) and isinstance(rerun, ErrorOutput):
        return compare_error(committed, rerun, tolerance)
    return None


def compare_cell(committed: CellResult, rerun: CellResult, tolerance: Tolerance) -> list[str]:
    """Same number and kinds of outputs, then each pair compared."""
    where = f"cell {committed.name or committed.index}"
    old, new = [kind(o) for o in committed.outputs], [kind(o) for o in rerun.outputs]
    if old != new:
        return [f"{where}: outputs committed [{', '.join(old)}] vs re-run [{', '.join(new)}]"]
    lines = []
    for a, b in zip(committed.outputs, rerun.outputs, strict=True):
        difference = compare_output(a, b, tolerance)
        if difference:
            lines.append(f"{where} {kind(a)}: {difference}")
    return lines


def compare_results(committed: Result, rerun: Result, tolerance: Tolerance) -> list[str]:
    """Every difference between a committed result and its re-run; provenance is ignored."""
    lines = compare_values(committed.values, rerun.values, tolerance)
    if len(committed.cells) != len(rerun.cells):
        return [*lines, f"cells: committed {len(committed.cells)} vs re-run {len(rerun.cells)}"]
    for a, b in zip(committed.cells, rerun.cells, strict=True):
        lines += compare_cell(a, b, tolerance)
    return lines


def figure_problems(
    old_folder: Path, committed: Result, new_folder: Path, rerun: Result
) -> list[str]:
    """Each figure of the committed result against the re-run's at the same place: same type
    and displayed size, same pixel size, and pixels that differ by at most `MAX_FIGURE_RMS`
    (root mean square, 0-255) where a re-run on another machine draws lines a pixel apart."""
    problems = []
    pairs = [
        (cell.name or cell.index, a, b)
        for cell, other in zip(committed.cells, rerun.cells, strict=True)
        for a, b in zip(cell.outputs, other.outputs, strict=True)
        if isinstance(a, ImageOutput) and isinstance(b, ImageOutput)
    ]
    for where, a, b in pairs:
        shown = (a.mime, a.width, a.height), (b.mime, b.width, b.height)
        if shown[0] != shown[1]:
            problems.append(f"cell {where} figure: committed {shown[0]} vs re-run {shown[1]}")
            continue
        difference = pixel_difference(old_folder / a.file, new_folder / b.file)
        if difference is not None:
            problems.append(f"cell {where} figure {a.file}: {difference}")
    return problems


def pixel_difference(committed: Path, rerun: Path) -> str | None:
    """Why two figure files do not show the same picture (None when they do)."""
    from PIL import Image, ImageChops, ImageStat

    with Image.open(committed) as old, Image.open(rerun) as new:
        if old.size != new.size:
            (a, b), (c, d) = old.size, new.size
            return f"committed {a}x{b} pixels vs re-run {c}x{d}"
        difference = ImageChops.difference(old.convert("RGBA"), new.convert("RGBA"))
        rms = max(ImageStat.Stat(difference).rms)
    if rms > MAX_FIGURE_RMS:
        return f"the pixels differ (root mean square {rms:.1f} of 255, at most {MAX_FIGURE_RMS})"
    return None


def recheck_problems(committed: VariantRecord, rerun: VariantRecord) -> list[str]:
    """What differs between a committed record and its re-run, as `verify-results` compares a
    main result: the key, success, values, histories and a backend's outputs (within the
    tolerance)."""
    from .compare import Tolerance, compare_history, compare_values
    from .outputs import HistoryOutput

    if committed.key != rerun.key:
        return [f"key {committed.key[:12]} vs {rerun.key[:12]}"]
    if committed.ok != rerun.ok:
        return [f"error {committed.error!r:.120} vs {rerun.error!r:.120}"]
    problems = compare_values(committed.values, rerun.values, Tolerance())
    if len(committed.histories) != len(rerun.histories):
        return [*problems, f"{len(committed.histories)} vs {len(rerun.histories)} histories"]
    for old, new in zip(committed.histories, rerun.histories, strict=True):
        try:
            difference = compare_history(HistoryOutput(**old), HistoryOutput(**new), Tolerance())
        except TypeError:
            difference = "a history that is not the engine's"
        if difference:
            problems.append(f"history: {difference}")
    if committed.cells and rerun.cells:  # a backend's outputs, as a main result's are compared
        if len(committed.cells) != len(rerun.cells):
            return [*problems, f"cells: {len(committed.cells)} vs {len(rerun.cells)}"]
        for old_cell, new_cell in zip(committed.cells, rerun.cells, strict=True):
            problems += compare_cell(old_cell, new_cell, Tolerance())
    return problems
