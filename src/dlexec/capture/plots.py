"""Training-curve figures drawn from a captured History.

Pages get one small SVG per metric and palette (light, dark): the page lays the panels side by
side on a wide screen and stacks them on a phone, so their text keeps its size, and each can be
zoomed. Notebooks (downloads, and the run pages made from them) get one figure of all metrics
on an opaque white card, legible whatever theme the reader's notebook viewer uses.

Matplotlib is imported when a figure is drawn, not with this module: a build that reuses every
result draws nothing and should not pay for the import.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..store.curves import (
    CARD,
    PALETTE_NAMES,
    band_names,
    curve_names,
    metric_names,
    panel_key,
)
from ..store.outputs import HistoryOutput

PALETTES = {
    # `ground`: the page colour behind a panel (Material's default and slate backgrounds).
    "light": {
        "text": "#333333",
        "grid": "#d0d0d0",
        "train": "#1f6fb4",
        "validation": "#c2410c",
        "ground": "#ffffff",
    },
    "dark": {
        "text": "#e6e6e6",
        "grid": "#4a4a4a",
        "train": "#6cb4ff",
        "validation": "#ffa45c",
        "ground": "#1e2129",
    },
}
assert tuple(PALETTES) == PALETTE_NAMES  # the file names (curves) and the drawings agree
STYLE = {"svg.fonttype": "none", "svg.hashsalt": "dlexec", "font.size": 11}
PANEL_INCHES = (4.2, 3.0)


def curve_files(history: HistoryOutput) -> dict[str, tuple[str, bytes]]:
    """Plot key -> (file name, SVG bytes) for one fit's training curves: `panel_key(i,
    palette)` for metric i of `metric_names` in each palette, and CARD for the notebook."""
    names = curve_names(history)
    files = {CARD: (names[CARD], _card(history))}
    for index, name in enumerate(metric_names(history)):
        for palette in PALETTES:
            key = panel_key(index, palette)
            files[key] = (names[key], _panel(history, name, palette))
    return files


def band_files(runs: list[HistoryOutput]) -> dict[str, tuple[str, bytes]]:
    """Panel key -> (file name, SVG bytes) of one fit over its seed runs (`runs[0]`: the main
    run): per metric and palette, the mean over the runs with a min-to-max band, and the main
    run as a thin line, so it stays identifiable."""
    names = band_names(runs)
    files = {}
    for index, name in enumerate(metric_names(runs[0])):
        for palette in PALETTES:
            key = panel_key(index, palette)
            files[key] = (names[key], _band_panel(runs, name, palette))
    return files


def _band_panel(runs: list[HistoryOutput], name: str, palette: str) -> bytes:
    from matplotlib.figure import Figure

    colors = PALETTES[palette]
    with _drawing():
        figure = Figure(figsize=PANEL_INCHES, layout="constrained")
        axes = figure.subplots()
        series = ((name, "train", "training"), (f"val_{name}", "validation", "validation"))
        for order, (metric, color, label) in enumerate(series):
            _draw_spread(axes, runs, metric, colors[color], label, first=order == 0)
        _log_scale_if_spread(axes, name, [run.metrics for run in runs])
        _style(axes, name, colors, f"{len(runs)} seeds")
        return _svg(figure, transparent=True)


def _draw_spread(
    axes: Any, runs: list[HistoryOutput], metric: str, color: str, label: str, first: bool
) -> None:
    """Mean over the runs that reached each epoch, min to max as a band, the main run dotted
    (the band and the main run are named in the legend once, for both series)."""
    by_epoch: dict[int, list[float]] = {}
    for run in runs:
        for epoch, value in zip(run.epochs, run.metrics.get(metric) or [], strict=False):
            if value is not None:
                by_epoch.setdefault(epoch, []).append(value)
    if not by_epoch:
        return
    epochs = sorted(by_epoch)
    low, high = [min(by_epoch[e]) for e in epochs], [max(by_epoch[e]) for e in epochs]
    mean = [sum(by_epoch[e]) / len(by_epoch[e]) for e in epochs]
    band = f"min to max of {len(runs)} seeds" if first else None
    axes.fill_between(epochs, low, high, color=color, alpha=0.25, linewidth=0, label=band)
    axes.plot(epochs, mean, color=color, linewidth=2, label=f"{label}: mean")
    main = runs[0].metrics.get(metric)
    if main:
        axes.plot(
            runs[0].epochs,
            main,
            color=color,
            linewidth=1,
            linestyle=":",
            label="main run" if first else None,
        )


def best_epoch(history: HistoryOutput, name: str) -> tuple[int, float] | None:
    """(epoch, value) of the best validation value of metric `name`, if it was validated."""
    values = history.metrics.get(f"val_{name}") or []
    scored = [
        (value, epoch)
        for epoch, value in zip(history.epochs, values, strict=False)
        if value is not None
    ]
    if not scored:
        return None
    if _lower_is_better(name):
        value, epoch = min(scored)
    else:
        value, epoch = max(scored, key=lambda pair: (pair[0], -pair[1]))
    return epoch, value


def _lower_is_better(metric: str) -> bool:
    return any(word in metric for word in ("loss", "error", "mse", "mae"))


LOG_SCALE_SPREAD = 10.0  # a loss falling by more than this factor is drawn on a log axis


def _log_scale_if_spread(axes: Any, name: str, runs: list[dict[str, list]]) -> None:
    """A loss that falls by an order of magnitude or more has its story in the tail (where
    validation turns, how much it oscillates), which a linear axis flattens into its floor;
    a log axis keeps every factor the same height."""
    if not _lower_is_better(name):
        return
    values = [
        value
        for metrics in runs
        for metric in (name, f"val_{name}")
        for value in metrics.get(metric) or []
        if value is not None
    ]
    if values and min(values) > 0 and max(values) / min(values) >= LOG_SCALE_SPREAD:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        axes.set_yscale("log")
        # Ticks at 1, 2 and 5 of each decade, labelled as plain numbers: matplotlib's own
        # labels (10 to a power) are mathtext, drawn with elements a stored curve may not hold.
        axes.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axes.yaxis.set_minor_formatter(NullFormatter())


# rcParams and the SVG writer's id salt are global: a pool stores several results at once.
_ONE_AT_A_TIME = threading.Lock()


def _panel(history: HistoryOutput, name: str, palette: str) -> bytes:
    """One metric on transparent ground, for a page of that palette."""
    from matplotlib.figure import Figure

    with _drawing():
        figure = Figure(figsize=PANEL_INCHES, layout="constrained")
        _draw_metric(figure.subplots(), history, name, PALETTES[palette])
        return _svg(figure, transparent=True)


def _card(history: HistoryOutput) -> bytes:
    """Every metric side by side (two per row) on white, titled with the model's name."""
    from matplotlib.figure import Figure

    names = metric_names(history) or ["loss"]
    columns = min(len(names), 2)
    rows = -(-len(names) // columns)
    colors = PALETTES["light"]
    with _drawing():
        width, height = PANEL_INCHES
        figure = Figure(figsize=(width * columns, height * rows + 0.3), layout="constrained")
        grid = list(figure.subplots(rows, columns, squeeze=False).flat)
        for axes, name in zip(grid, names, strict=False):
            _draw_metric(axes, history, name, colors)
        for axes in grid[len(names) :]:
            axes.set_visible(False)  # the empty slot of an odd number of metrics
        figure.suptitle(
            f"Training curves: model '{history.model}'", color=colors["text"], parse_math=False
        )
        figure.set_facecolor("white")
        return _svg(figure, transparent=False)


@contextmanager
def _drawing() -> Iterator[None]:
    """The lock and the style every drawing uses."""
    import matplotlib

    with _ONE_AT_A_TIME, matplotlib.rc_context(STYLE):
        yield


def _svg(figure: Any, transparent: bool) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", transparent=transparent, metadata={"Date": None})
    return buffer.getvalue()


def _draw_metric(axes: Any, history: HistoryOutput, name: str, colors: dict[str, str]) -> None:

    epochs = history.epochs
    dots = {"marker": "o", "ms": 3} if len(epochs) <= 40 else {}  # no dots on long runs
    axes.plot(epochs, history.metrics[name], color=colors["train"], label="training", **dots)
    validation = history.metrics.get(f"val_{name}")
    if validation:
        axes.plot(epochs, validation, color=colors["validation"], label="validation", **dots)
    if history.restored_epoch is not None:
        # Only a restored epoch is marked: it is the model the snippet goes on with. The best
        # validation epoch of a run that kept its last weights would suggest a model it never had.
        axes.axvline(
            history.restored_epoch,
            color=colors["validation"],
            linestyle="--",
            linewidth=1,
            alpha=0.8,
            label=f"restored: epoch {history.restored_epoch}",
        )  # in the legend, not next to the line: the legend finds a place inside the axes
    _log_scale_if_spread(axes, name, [history.metrics])
    _style(axes, name, colors)


def _style(axes: Any, name: str, colors: dict[str, str], note: str = "") -> None:
    """Title, labels, grid and legend in the palette's colours."""
    from matplotlib.ticker import MaxNLocator

    # parse_math off: a name like "$\\frac" is text, not mathtext that could raise.
    label = name.replace("_", " ")
    title = f"{label} ({note})" if note else label
    axes.set_title(title, color=colors["text"], parse_math=False)
    axes.set_xlabel("epoch", color=colors["text"])
    axes.set_ylabel(label, color=colors["text"], parse_math=False)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(colors=colors["text"])
    axes.grid(True, color=colors["grid"], linewidth=0.6)
    for spine in axes.spines.values():
        spine.set_color(colors["grid"])
    # A frame of the page's colour: where the legend must sit on a curve, its text stays legible.
    legend = axes.legend(fontsize=10, facecolor=colors["ground"], edgecolor="none", framealpha=0.85)
    for text in legend.get_texts():
        text.set_color(colors["text"])
