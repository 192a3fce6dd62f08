"""What a run's cells output, as stored in a result and shown in a page: typed, cleaned data
(no markup). `capture` makes these from a kernel's raw outputs; results, pages and notebooks
read them without importing the capture machinery."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TextOutput:
    """Printed text; `stream` is stdout, stderr or result (a cell's value or a displayed object)."""

    stream: str
    text: str
    type: str = "text"


@dataclass(frozen=True)
class ImageOutput:
    """A figure the snippet displayed, stored as `file` (a PNG or a JPEG)."""

    file: str
    mime: str
    width: int | None = None
    height: int | None = None
    type: str = "image"


@dataclass(frozen=True)
class HistoryOutput:
    """What one `model.fit` returned; `plots` maps a palette (light/dark) to a curve file;
    `restored_epoch` is the epoch whose weights an EarlyStopping callback put back at the end
    (None: the model keeps its last epoch's weights)."""

    model: str
    epochs: list[int]
    metrics: dict[str, list[float | None]]
    plots: dict[str, str] = field(default_factory=dict)
    restored_epoch: int | None = None
    type: str = "history"


@dataclass(frozen=True)
class ErrorOutput:
    """An exception raised by the cell, with its traceback as plain text."""

    ename: str
    evalue: str
    traceback: str
    type: str = "error"


Output = TextOutput | ImageOutput | HistoryOutput | ErrorOutput
