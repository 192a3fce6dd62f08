"""Turn a kernel's raw outputs into typed, cleaned result data (no markup here)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from ._kernel import HISTORY_MIME, PROVENANCE_MIME, VALUES_MIME
from .clean import terminal_text, truncate

IMAGE_TYPES = {"image/png": "png", "image/svg+xml": "svg", "image/jpeg": "jpg"}


@dataclass(frozen=True)
class TextOutput:
    """Printed text; `stream` is stdout, stderr or result (a cell's value or a displayed object)."""

    stream: str
    text: str
    type: str = "text"


@dataclass(frozen=True)
class ImageOutput:
    """A figure the snippet displayed, stored as `file`."""

    file: str
    mime: str
    width: int | None = None
    height: int | None = None
    type: str = "image"


@dataclass(frozen=True)
class HistoryOutput:
    """What one `model.fit` returned; `plots` maps a palette (light/dark) to a curve file."""

    model: str
    epochs: list[int]
    metrics: dict[str, list[float | None]]
    plots: dict[str, str] = field(default_factory=dict)
    type: str = "history"


@dataclass(frozen=True)
class ErrorOutput:
    """An exception raised by the cell, with its traceback as plain text."""

    ename: str
    evalue: str
    traceback: str
    type: str = "error"


Output = TextOutput | ImageOutput | HistoryOutput | ErrorOutput


@dataclass
class Capture:
    """Outputs of one cell plus the binary files (name -> bytes) they refer to."""

    outputs: list[Output] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)


def capture_cell(raw_outputs: list[dict]) -> Capture:
    """Clean and type one cell's outputs; merge adjacent text of the same stream."""
    capture = Capture()
    for raw in raw_outputs:
        output = _convert(raw, capture.files)
        if output is None:
            continue
        previous = capture.outputs[-1] if capture.outputs else None
        if (
            isinstance(output, TextOutput)
            and isinstance(previous, TextOutput)
            and previous.stream == output.stream
        ):
            capture.outputs[-1] = TextOutput(output.stream, previous.text + output.text)
        else:
            capture.outputs.append(output)
    capture.outputs = [_finish(output) for output in capture.outputs]
    capture.outputs = [
        o for o in capture.outputs if not (isinstance(o, TextOutput) and not o.text.strip())
    ]
    return capture


def published(raw_outputs: list[dict], mime: str) -> dict:
    """The data a `_kernel` helper published with `mime` (merged if several)."""
    data: dict = {}
    for raw in raw_outputs:
        data.update(raw.get("data", {}).get(mime, {}))
    return data


def provenance(raw_outputs: list[dict]) -> dict:
    return published(raw_outputs, PROVENANCE_MIME)


def values(raw_outputs: list[dict]) -> dict:
    return published(raw_outputs, VALUES_MIME)


def _finish(output: Output) -> Output:
    if isinstance(output, TextOutput):
        return TextOutput(output.stream, truncate(terminal_text(output.text)))
    return output


def _convert(raw: dict, files: dict[str, bytes]) -> Output | None:
    kind = raw.get("output_type")
    if kind == "stream":
        return TextOutput(raw.get("name", "stdout"), raw.get("text", ""))
    if kind == "error":
        traceback = terminal_text("\n".join(raw.get("traceback", [])))
        return ErrorOutput(raw.get("ename", ""), terminal_text(raw.get("evalue", "")), traceback)
    if kind in ("display_data", "execute_result"):
        return _rich(raw.get("data", {}), raw.get("metadata", {}), files)
    return None


def _rich(data: dict, metadata: dict, files: dict[str, bytes]) -> Output | None:
    if HISTORY_MIME in data:
        record = data[HISTORY_MIME]
        return HistoryOutput(record["model"], record["epochs"], record["metrics"])
    if PROVENANCE_MIME in data or VALUES_MIME in data:
        return None
    for mime, extension in IMAGE_TYPES.items():
        if mime in data:
            return _image(mime, extension, data[mime], metadata.get(mime, {}), files)
    text = data.get("text/plain")
    return TextOutput("result", _ensure_newline(text)) if text else None


def _image(
    mime: str, extension: str, payload: str, meta: dict, files: dict[str, bytes]
) -> ImageOutput:
    content = payload.encode() if mime == "image/svg+xml" else base64.b64decode(payload)
    name = f"figure-{hashlib.sha256(content).hexdigest()[:16]}.{extension}"
    files[name] = content
    return ImageOutput(name, mime, meta.get("width"), meta.get("height"))


def _ensure_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"
