"""Keras training logs read back from printed text: which lines are epochs, and their numbers.

A Keras epoch prints two lines, `Epoch 3/10` and a progress line ending in its metrics
(`225/225 ━━━━ - accuracy: 0.9578 - loss: 0.1454 - val_accuracy: 0.9725 - val_loss: 0.1065`),
about 110 characters, wider than a page's output column. Pages show such runs of epochs as a
table instead; every other printed line stays text, in order. No markup here (see `render`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EPOCH = re.compile(r"^Epoch (\d+)/(\d+)\s*$")
# A progress line: "steps/total", optionally the bar, then " - name: value" pairs (the cleaned
# log has no timings; a verbose=2 line may still have "- 3s" style parts, which are skipped).
PROGRESS = re.compile(r"^\s*\d+/\d+\b.*?(?P<metrics>(?: - [^\s:]+: \S+)+)\s*$")
METRIC = re.compile(r" - ([^\s:]+): (\S+)")


@dataclass(frozen=True)
class Epoch:
    """One epoch's line pair: its number, the run's epoch count, and the printed metrics."""

    number: int
    total: int
    metrics: tuple[tuple[str, str], ...]  # (name, value as printed), in printed order
    text: str  # the two lines as printed

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.metrics)


@dataclass(frozen=True)
class EpochRun:
    """Consecutive epochs of one `fit` (same metrics, numbers counting up)."""

    epochs: tuple[Epoch, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return self.epochs[0].names

    @property
    def text(self) -> str:
        return "".join(epoch.text for epoch in self.epochs)


Segment = str | EpochRun  # printed text as it is, or a run of epochs


def segments(text: str) -> list[Segment]:
    """`text` cut into runs of epochs and the text between them; joined, they are `text`."""
    lines = text.splitlines(keepends=True)
    found: list[Segment] = []
    plain: list[str] = []
    index = 0
    while index < len(lines):
        epoch = _epoch(lines, index)
        if epoch is None:
            plain.append(lines[index])
            index += 1
            continue
        if plain:
            found.append("".join(plain))
            plain = []
        found.append(_extended(found.pop() if _continues(found, epoch) else None, epoch))
        index += 2
    if plain:
        found.append("".join(plain))
    return found


def _epoch(lines: list[str], index: int) -> Epoch | None:
    """The epoch whose header is lines[index], if that line and the next are one."""
    header = EPOCH.match(lines[index])
    progress = PROGRESS.match(lines[index + 1]) if index + 1 < len(lines) else None
    if header is None or progress is None:
        return None
    metrics = tuple(METRIC.findall(progress["metrics"]))
    text = lines[index] + lines[index + 1]
    return Epoch(int(header[1]), int(header[2]), metrics, text)


def _continues(found: list[Segment], epoch: Epoch) -> bool:
    last = found[-1] if found else None
    return (
        isinstance(last, EpochRun)
        and last.names == epoch.names
        and last.epochs[-1].total == epoch.total
        and last.epochs[-1].number < epoch.number
    )


def _extended(run: EpochRun | None, epoch: Epoch) -> EpochRun:
    return EpochRun((*run.epochs, epoch) if run else (epoch,))
