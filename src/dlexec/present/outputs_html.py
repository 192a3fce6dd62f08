"""The markup of a cell's outputs: printed text (with Keras' epochs as a table), figures,
training curves, errors, and the provenance line. Everything captured is escaped here."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends import BACKEND_NAMES
from ..build.report import SnippetRun
from ..capture.plots import best_epoch
from ..sources.snippets import Cell
from ..store.curves import metric_names, panel_key
from ..store.outputs import HistoryOutput, TextOutput
from ..store.results import Result
from .logs import EpochRun, segments

LONG_TEXT_LINES = 60  # printed text (not epochs) this long collapses to its last lines


VISIBLE_TEXT_LINES = 20


FOLDED_EPOCHS = 8  # a run of more epochs shows its last ones, the earlier ones one click away


VISIBLE_EPOCHS = 5


LONG_CELL_S = 5.0  # an embed whose cells ran this long says so


def cell_times_html(result: Result, cells: list[Cell]) -> str:
    """'This cell ran 95.2 s.' under an embed whose cells ran long; '' otherwise."""
    times = result.cell_times()
    long = [(cell, times[cell.index]) for cell in cells if times.get(cell.index, 0) >= LONG_CELL_S]
    if not long:
        return ""
    if len(cells) == 1:
        text = f"This cell ran {long[0][1]:g} s."
    else:
        text = (
            "Cells that ran long: "
            + ", ".join(
                f"{cell.name or f'cell {cell.index + 1}'} {seconds:g} s" for cell, seconds in long
            )
            + "."
        )
    return f'<p class="dlexec-timing">{html.escape(text)}</p>'


def zoomable(url: str, image: str, gallery: str = "figures") -> str:
    """`image` (escaped markup) as a link that mkdocs-glightbox opens in a lightbox."""
    return (
        f'<a class="glightbox" href="{url}" data-type="image" data-gallery="{gallery}">{image}</a>'
    )


def text_html(output: TextOutput) -> str:
    """Printed text. Keras epochs become a table of their numbers (the raw lines one click
    away); a run of many epochs shows its last ones. Other lines are shown as printed; only a
    very long text folds, keeping its last lines in view."""
    css = html.escape(f"dlexec-output dlexec-{output.stream}")
    if output.stream == "result":  # a displayed value, e.g. model.summary(): always whole
        return _pre(css, output.text)
    return "".join(
        _epochs_html(part) if isinstance(part, EpochRun) else _plain_html(css, part)
        for part in segments(output.text)
    )


def _pre(css: str, text: str) -> str:
    return f'<pre class="{css}"><code>{html.escape(text)}</code></pre>'


def _fold(summary: str, body: str, css: str = "dlexec-fold") -> str:
    """A discreet toggle: `body` (markup) one click away under a small `summary` line."""
    return f'<details class="{css}"><summary>{html.escape(summary)}</summary>{body}</details>'


def _plain_html(css: str, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if len(lines) < LONG_TEXT_LINES:
        return _pre(css, text)
    earlier, last = lines[:-VISIBLE_TEXT_LINES], lines[-VISIBLE_TEXT_LINES:]
    summary = f"{len(earlier)} earlier lines of this output"
    return _fold(summary, _pre(css, "".join(earlier))) + _pre(css, "".join(last))


def _epochs_html(run: EpochRun) -> str:
    """The epochs as a table (the last VISIBLE_EPOCHS when there are many), then the raw log."""
    epochs = run.epochs
    folded = len(epochs) > FOLDED_EPOCHS
    earlier, shown = (
        (epochs[:-VISIBLE_EPOCHS], epochs[-VISIBLE_EPOCHS:]) if folded else ((), epochs)
    )
    head = (
        "<tr><th>epoch</th>"
        + "".join(f"<th>{html.escape(name).replace('_', '_<wbr>')}</th>" for name in run.names)
        + "</tr>"
    )

    def table(rows: tuple) -> str:
        body = "".join(
            f"<tr><td>{epoch.number}</td>"
            + "".join(f"<td>{html.escape(value)}</td>" for _, value in epoch.metrics)
            + "</tr>"
            for epoch in rows
        )
        return f'<table class="dlexec-epochs"><thead>{head}</thead><tbody>{body}</tbody></table>'

    parts = []
    if earlier:
        span = f"{earlier[0].number}–{earlier[-1].number}"
        parts.append(_fold(f"epochs {span} of {epochs[-1].total}", table(earlier)))
    parts.append(table(shown))
    parts.append(_fold("the log as printed", _pre("dlexec-output dlexec-stdout", run.text)))
    return f'<div class="dlexec-log">{"".join(parts)}</div>'


def history_html(history: HistoryOutput, folder: Path, links: Links) -> str:
    """One panel per metric, in both palettes (Material shows the one of the page's palette);
    side by side where there is room, stacked on a phone, each opening larger on a tap."""
    caption = (
        f"Training curves of model '{history.model}', {len(history.epochs)} epochs, "
        "drawn from the History that model.fit returned."
    )
    plots, band = history.plots, links.band(history)
    if band is not None:
        runs, plots = band
        caption = (
            f"Training curves of model '{history.model}' over {runs} seeds (this run and the "
            f"{runs - 1} further seeds make verify recorded): the line is the mean, the band "
            "runs from the lowest to the highest run, the dotted line is this page's run."
        )
    panels = []
    for index, name in enumerate(metric_names(history)):
        alt = html.escape(_panel_description(history, name))
        images = []
        for palette in ("light", "dark"):
            file = plots.get(panel_key(index, palette))
            if file is None:
                continue
            url = html.escape(links.asset(folder, file))
            image = f'<img src="{url}#only-{palette}" alt="{alt}" loading="lazy">'
            images.append(zoomable(f"{url}#only-{palette}", image, f"curves-{palette}"))
        panels.append(f'<div class="dlexec-panel">{"".join(images)}</div>')
    return (
        f'<figure class="dlexec-curves"><div class="dlexec-panels">{"".join(panels)}</div>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _panel_description(history: HistoryOutput, name: str) -> str:
    """Alt text of one metric's panel: what it plots and where validation was best."""
    label = name.replace("_", " ")
    validated = f"val_{name}" in history.metrics
    text = f"{label} per epoch of model '{history.model}', training" + (
        " and validation" if validated else ""
    )
    best = best_epoch(history, name)
    if best is not None:
        text += f"; best validation {label} {best[1]:.4g} at epoch {best[0]}"
    if history.restored_epoch is not None:
        text += f"; the weights of epoch {history.restored_epoch} were restored"
    return text + "."


def error_html(message: str, traceback: str = "") -> str:
    body = f"<pre><code>{html.escape(traceback)}</code></pre>" if traceback else ""
    return (
        '<div class="admonition failure dlexec-error"><p class="admonition-title">'
        f"{html.escape(message)}</p>{body}</div>"
    )


def backend_text(info: Mapping[str, Any]) -> str:
    """'TensorFlow 2.21.0 · Keras 3.15.1': what a run's provenance says computed it."""
    backend = str(info.get("backend", "tensorflow"))
    name = BACKEND_NAMES.get(backend, backend)
    return f"{name} {info.get(backend, '?')} · Keras {info.get('keras', '?')}"


def provenance_text(result: Result) -> str:
    info = result.provenance
    versions = backend_text(info)
    threads = str(info.get("math_threads", ""))
    how = ""
    if threads.isdigit() and info.get("deterministic_ops") in ("on", "off"):
        plural = "s" if threads != "1" else ""
        how = f" · {threads} math thread{plural}, deterministic ops {info['deterministic_ops']}"
    return (
        f"Ran on {info.get('device', '?')}{how} · {versions} · {info.get('wall_time_s', '?')} s"
        f" · {info.get('date', '?')}"
    )


def provenance_html(result: Result, run_page: str | None = None) -> str:
    link = f' · <a href="{html.escape(run_page)}">view the full run</a>' if run_page else ""
    return f'<p class="dlexec-provenance">{html.escape(provenance_text(result))}{link}</p>'


@dataclass(frozen=True)
class Links:
    """How the page reaches published files: result assets, and a snippet's full-run page."""

    asset: Callable[[Path, str], str]  # (result folder, file name) -> URL
    run_page: Callable[[SnippetRun], str | None] = lambda run: None
    # A history's curves over seeds: (number of runs, panel key -> file name), if drawn.
    band: Callable[[HistoryOutput], tuple[int, dict[str, str]] | None] = lambda history: None
