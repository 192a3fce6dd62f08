"""Training-curve figures drawn from a captured History, one SVG per Material palette.

Matplotlib is imported when a figure is drawn, not with this module: a build that reuses every
result draws nothing and should not pay for the import.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading

from .outputs import HistoryOutput

PALETTES = {
    "light": {"text": "#333333", "grid": "#d0d0d0", "train": "#1f6fb4", "validation": "#d9580d"},
    "dark": {"text": "#e6e6e6", "grid": "#4a4a4a", "train": "#6cb4ff", "validation": "#ffa45c"},
}
STYLE = {"svg.fonttype": "none", "svg.hashsalt": "dlexec", "font.size": 10}


def curve_files(history: HistoryOutput) -> dict[str, tuple[str, bytes]]:
    """Palette name -> (file name, SVG bytes) for one fit's training curves."""
    identity = json.dumps([history.model, history.epochs, history.metrics], sort_keys=True)
    stem = f"curves-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"
    return {palette: (f"{stem}-{palette}.svg", _draw(history, palette)) for palette in PALETTES}


def metric_names(history: HistoryOutput) -> list[str]:
    """Training metrics to plot (validation variants go on the same axes), accuracy before loss."""
    names = [name for name in history.metrics if not name.startswith("val_")]
    return sorted(names, key=lambda name: (name == "loss", name))


def _lower_is_better(metric: str) -> bool:
    return any(word in metric for word in ("loss", "error", "mse", "mae"))


_ONE_AT_A_TIME = threading.Lock()


def _draw(history: HistoryOutput, palette: str) -> bytes:
    import matplotlib
    from matplotlib.figure import Figure

    colors = PALETTES[palette]
    names = metric_names(history)
    columns = min(len(names), 2) or 1  # two plots side by side, more metrics wrap to new rows
    rows = -(-len(names) // columns) or 1
    # rcParams and the SVG writer's id salt are global: a pool stores several results at once.
    with _ONE_AT_A_TIME, matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(4.2 * columns, 3.0 * rows + 0.3), layout="constrained")
        grid = list(figure.subplots(rows, columns, squeeze=False).flat)
        for axes, name in zip(grid, names, strict=False):
            _draw_metric(axes, history, name, colors)
        for axes in grid[len(names) :]:
            axes.set_visible(False)  # the empty slot of an odd number of metrics
        figure.suptitle(
            f"Training curves: model '{history.model}'", color=colors["text"], parse_math=False
        )
        buffer = io.BytesIO()
        figure.savefig(buffer, format="svg", transparent=True, metadata={"Date": None})
    return buffer.getvalue()


def _draw_metric(axes, history: HistoryOutput, name: str, colors: dict[str, str]) -> None:
    from matplotlib.ticker import MaxNLocator

    epochs = history.epochs
    dots = {"marker": "o", "ms": 3} if len(epochs) <= 40 else {}  # no dots on long runs
    axes.plot(epochs, history.metrics[name], color=colors["train"], label="training", **dots)
    validation = history.metrics.get(f"val_{name}")
    if validation:
        axes.plot(epochs, validation, color=colors["validation"], label="validation", **dots)
        _mark_best(axes, epochs, validation, name, colors)
    # parse_math off: a name like "$\\frac" is text, not mathtext that could raise.
    axes.set_title(name.replace("_", " "), color=colors["text"], parse_math=False)
    axes.set_xlabel("epoch", color=colors["text"])
    axes.set_ylabel(name.replace("_", " "), color=colors["text"], parse_math=False)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(colors=colors["text"])
    axes.grid(True, color=colors["grid"], linewidth=0.6)
    for spine in axes.spines.values():
        spine.set_color(colors["grid"])
    legend = axes.legend(frameon=False)
    for text in legend.get_texts():
        text.set_color(colors["text"])


def _mark_best(
    axes, epochs: list[int], values: list[float | None], name: str, colors: dict
) -> None:
    """A dashed line at the best validation epoch."""
    scored = [
        (value, epoch) for epoch, value in zip(epochs, values, strict=False) if value is not None
    ]
    if not scored:
        return
    best = (
        min(scored) if _lower_is_better(name) else max(scored, key=lambda pair: (pair[0], -pair[1]))
    )
    axes.axvline(best[1], color=colors["validation"], linestyle="--", linewidth=1, alpha=0.7)
    axes.annotate(
        f"best: epoch {best[1]}",
        xy=(best[1], best[0]),
        xytext=(4, 6),
        textcoords="offset points",
        fontsize=8,
        color=colors["text"],
    )
