"""Turn a kernel's raw outputs into typed, cleaned result data (no markup here).

Everything in a cell's outputs is the snippet's to choose, so it is treated as untrusted input:
a malformed or oversized output becomes a notice on stderr (what was left out and why), never
an exception. Figures are checked by `images`; an SVG is only ever stored as a PNG drawn from it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from ..limits import MAX_STRING_VALUE
from ..store.outputs import ErrorOutput, HistoryOutput, ImageOutput, Output, TextOutput
from . import images
from ._kernel import HISTORY_MIME, PROVENANCE_MIME, VALUES_MIME
from .clean import human_size, terminal_text, truncate

# Preference order when an output offers several image types.
IMAGE_TYPES = ("image/png", "image/svg+xml", "image/jpeg")
MAX_CELL_IMAGE_BYTES = 20 * 1024 * 1024  # all figure files of a cell, or of a shared budget
MAX_SVGS = 20  # SVG figures drawn per budget
MAX_DISPLAY_SIZE = 100_000  # a figure's width or height as displayed (CSS pixels)
MAX_EPOCHS = 100_000  # per History record
MAX_METRICS = 64
MAX_NAME_CHARS = 200  # a model's or a metric's name
MAX_EPOCH_NUMBER = 2**31 - 1
STREAMS = ("stdout", "stderr")


@dataclass
class Capture:
    """Outputs of one cell plus the binary files (name -> bytes) they refer to."""

    outputs: list[Output] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class FileBudget:
    """What figures may still use: bytes of files, and SVG drawings. Share one across the cells
    of a snippet to bound the snippet, or let each cell have its own (the default)."""

    limit: int = MAX_CELL_IMAGE_BYTES
    used: int = 0
    svgs_left: int = MAX_SVGS  # each is drawn in a child process, for up to SVG_TIMEOUT_S


class Rejected(Exception):
    """An output left out of the result; the message is the notice shown in its place."""


@dataclass
class _Text:
    """Text of one stream being merged: pieces are joined once (no quadratic concatenation)."""

    stream: str
    pieces: list[str]
    notice: bool = False


def capture_cell(raw_outputs: list[dict], budget: FileBudget | None = None) -> Capture:
    """Clean and type one cell's outputs; merge adjacent text of the same stream.

    Figures may use what is left of `budget` (by default a fresh one per cell)."""
    budget = budget if budget is not None else FileBudget()
    capture = Capture()
    items: list[_Text | Output] = []
    for raw in raw_outputs:
        try:
            output = _convert(raw, capture.files, budget)
        except Rejected as rejected:
            output = _notice(str(rejected))
        except Exception as error:  # a shape of output nobody foresaw: still never a crash
            output = _notice(f"an output could not be captured ({type(error).__name__})")
        if output is None:
            continue
        if isinstance(output, TextOutput):
            if _noise_only(output):
                continue  # else TensorFlow's log lines would split a progress line in two
            output = _Text(output.stream, [output.text])
        previous = items[-1] if items else None
        if (
            isinstance(output, _Text)
            and isinstance(previous, _Text)
            and (previous.stream, previous.notice) == (output.stream, output.notice)
        ):
            previous.pieces += output.pieces
        else:
            items.append(output)
    for item in items:
        output = _finish(item) if isinstance(item, _Text) else item
        if not (isinstance(output, TextOutput) and not output.text.strip()):
            capture.outputs.append(output)
    return capture


def _noise_only(output: TextOutput) -> bool:
    """Text that cleaning removes entirely (TensorFlow's C++ logs), as opposed to whitespace."""
    return bool(output.text.strip()) and not terminal_text(output.text).strip()


def _notice(message: str) -> _Text:
    return _Text("stderr", [f"[{' '.join(message.split())[:1000]}]\n"], notice=True)


def published(raw_outputs: list[dict], mime: str) -> dict:
    """The data a `_kernel` helper published with `mime` (merged if several; only objects)."""
    data: dict = {}
    for raw in raw_outputs:
        bundle = raw.get("data") if isinstance(raw, dict) else None
        payload = bundle.get(mime) if isinstance(bundle, dict) else None
        if isinstance(payload, dict):
            data.update((key, value) for key, value in payload.items() if isinstance(key, str))
    return data


def provenance(raw_outputs: list[dict]) -> dict:
    return {
        key: value
        for key, value in published(raw_outputs, PROVENANCE_MIME).items()
        if value is None or isinstance(value, str)
    }


def values(raw_outputs: list[dict]) -> dict:
    """The snippet's published values: numbers, booleans and short strings only."""
    return {
        key: value
        for key, value in published(raw_outputs, VALUES_MIME).items()
        if _plain_value(value)
    }


def _plain_value(value: object) -> bool:
    if isinstance(value, bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str) and len(value) <= MAX_STRING_VALUE


def _finish(item: _Text) -> TextOutput:
    text = "".join(item.pieces)
    return TextOutput(item.stream, truncate(text if item.notice else terminal_text(text)))


def _convert(raw: object, files: dict[str, bytes], budget: FileBudget) -> Output | None:
    if not isinstance(raw, dict):
        raise Rejected("an output that is not a JSON object was left out")
    kind = raw.get("output_type")
    if kind == "stream":
        name = raw.get("name")
        text = images.as_text(raw.get("text"))
        if text is None:
            raise Rejected("printed output that is not text was left out")
        return TextOutput(name if name in STREAMS else "stdout", text)
    if kind == "error":
        return _error(raw)
    if kind in ("display_data", "execute_result"):
        data, metadata = raw.get("data"), raw.get("metadata")
        if not isinstance(data, dict):
            raise Rejected("a displayed object without a MIME bundle was left out")
        return _rich(data, metadata if isinstance(metadata, dict) else {}, files, budget)
    return None


def _error(raw: dict) -> ErrorOutput:
    lines = raw.get("traceback")
    if isinstance(lines, list):
        traceback = "\n".join(line for line in lines if isinstance(line, str))
    else:
        traceback = images.as_text(lines) or ""
    ename = terminal_text(images.as_text(raw.get("ename")) or "")[:MAX_NAME_CHARS]
    evalue = truncate(terminal_text(images.as_text(raw.get("evalue")) or ""))
    return ErrorOutput(ename, evalue, truncate(terminal_text(traceback)))


def _rich(data: dict, metadata: dict, files: dict[str, bytes], budget: FileBudget) -> Output | None:
    if HISTORY_MIME in data:
        return history_output(data[HISTORY_MIME])
    if PROVENANCE_MIME in data or VALUES_MIME in data:
        return None
    for mime in IMAGE_TYPES:
        if mime in data:
            meta = metadata.get(mime)
            return _image(mime, data[mime], meta if isinstance(meta, dict) else {}, files, budget)
    if "text/plain" not in data:
        return None
    text = images.as_text(data["text/plain"])
    if text is None:
        raise Rejected("a displayed object whose text/plain is not text was left out")
    return TextOutput("result", _ensure_newline(text)) if text else None


def _image(
    mime: str, payload: object, meta: dict, files: dict[str, bytes], budget: FileBudget
) -> ImageOutput:
    if mime == "image/svg+xml":
        if budget.svgs_left <= 0:
            raise Rejected(f"a figure ({mime}) was left out: only {MAX_SVGS} SVG figures are drawn")
        budget.svgs_left -= 1
    try:
        if mime == "image/svg+xml":
            figure = images.from_svg(payload)
        else:
            figure = images.from_base64(payload, mime)
    except images.ImageRejected as rejected:
        raise Rejected(f"a figure ({mime}) was left out: {rejected}") from None
    content = figure.content
    name = f"figure-{hashlib.sha256(content).hexdigest()[:16]}.{figure.extension}"
    if name not in files:
        if budget.used + len(content) > budget.limit:
            raise Rejected(
                f"a figure ({mime}, {human_size(len(content))}) was left out: the figures "
                f"before it already use {human_size(budget.used)} of the "
                f"{human_size(budget.limit)} allowed"
            )
        budget.used += len(content)
        files[name] = content
    width, height = _display_size(meta.get("width")), _display_size(meta.get("height"))
    if mime == "image/svg+xml" or figure.scale != 1.0:
        if width is None:  # the natural size of an SVG, or the new size of a downscaled figure
            width, height = figure.width, figure.height
        else:  # the displayed size, scaled like the pixels
            width = max(1, round(width * figure.scale))
            height = max(1, round(height * figure.scale)) if height is not None else None
    return ImageOutput(name, figure.mime, width, height)


def _display_size(value: object) -> int | None:
    """A width or height from a figure's metadata: a positive number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not 0 < value <= MAX_DISPLAY_SIZE:
        return None
    return max(1, round(value))


def history_output(record: object) -> HistoryOutput:
    """Check a History record (from `_kernel`, or published by the snippet itself)."""
    problem = _history_problem(record)
    if problem:
        raise Rejected(f"a training history was left out: {problem}")
    assert isinstance(record, dict)
    metrics = {name: [_number(v) for v in series] for name, series in record["metrics"].items()}
    restored = record.get("restored_epoch")
    return HistoryOutput(record["model"], list(record["epochs"]), metrics, restored_epoch=restored)


def _history_problem(record: object) -> str | None:
    if not isinstance(record, dict):
        return "it is not an object with model, epochs and metrics"
    model, epochs, metrics = record.get("model"), record.get("epochs"), record.get("metrics")
    if not isinstance(model, str) or len(model) > MAX_NAME_CHARS:
        return f"its model name is not a string of at most {MAX_NAME_CHARS} characters"
    if not isinstance(epochs, list):
        return "its epochs are not a list"
    if len(epochs) > MAX_EPOCHS:
        return f"it has {len(epochs):,} epochs, over the limit of {MAX_EPOCHS:,}"
    if not all(type(e) is int and 0 <= e <= MAX_EPOCH_NUMBER for e in epochs):
        return "its epochs are not all whole numbers"
    restored = record.get("restored_epoch")
    if restored is not None and (type(restored) is not int or restored not in epochs):
        return "its restored epoch is not one of its epochs"
    if not isinstance(metrics, dict):
        return "its metrics are not an object"
    if len(metrics) > MAX_METRICS:
        return f"it has {len(metrics):,} metrics, over the limit of {MAX_METRICS}"
    for name, series in metrics.items():
        if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
            return f"a metric name is not a string of 1 to {MAX_NAME_CHARS} characters"
        if not isinstance(series, list) or len(series) != len(epochs):
            return f"metric {name!r} is not a list with one value per epoch"
        if not all(_is_number(value) for value in series):
            return f"metric {name!r} has values that are not numbers (or null)"
    return None


def _is_number(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _number(value: int | float | None) -> float | None:
    """A metric value as a float; NaN and infinity become None, as `_kernel` records them."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _ensure_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"
