"""The names of a history's training-curve files: a digest of what is drawn, so a stored
result's `plots` can be checked against its history without drawing."""

from __future__ import annotations

import hashlib
import json

from .outputs import HistoryOutput

CARD = "card"  # the key of the notebook figure in HistoryOutput.plots
PALETTE_NAMES = ("light", "dark")  # each metric's panel is drawn in both (plots.PALETTES)


def curve_names(history: HistoryOutput) -> dict[str, str]:
    """Plot key -> file name of `curve_files`, without drawing: the names are a digest of what
    is drawn, so a stored result's `plots` can be checked against its history cheaply."""
    shown = [history.model, history.epochs, history.metrics]
    if history.restored_epoch is not None:  # drawn as a marker; names stay as they were without
        shown.append(history.restored_epoch)
    identity = json.dumps(shown, sort_keys=True)
    stem = f"curves-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"
    names = {CARD: f"{stem}-{CARD}.svg"}
    for index, _ in enumerate(metric_names(history)):
        for palette in PALETTE_NAMES:
            names[panel_key(index, palette)] = f"{stem}-{index}-{palette}.svg"
    return names


def panel_names(history: HistoryOutput) -> dict[str, str]:
    """`curve_names` without the notebook's card: what a backend tab shows (no notebook
    carries another backend's outputs, so its record stores no card)."""
    return {key: name for key, name in curve_names(history).items() if key != CARD}


def panel_key(index: int, palette: str) -> str:
    return f"{index}/{palette}"


def metric_names(history: HistoryOutput) -> list[str]:
    """Training metrics to plot (validation variants go on the same axes), accuracy before loss.
    A model with several outputs logs each output's loss and their sum as `loss`; the sum of
    losses that pull against each other (a GAN's) means nothing on its own, so it is left out."""
    names = [name for name in history.metrics if not name.startswith("val_")]
    if sum(name.endswith("_loss") for name in names) >= 2:
        names = [name for name in names if name != "loss"]
    return sorted(names, key=lambda name: (name == "loss", name))


def band_names(runs: list[HistoryOutput]) -> dict[str, str]:
    """Panel key -> file name of one fit's curves over seeds (`runs[0]` is the main run):
    a digest of every run drawn, so new seeds give new files."""
    identity = json.dumps([[run.model, run.epochs, run.metrics] for run in runs], sort_keys=True)
    stem = f"band-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"
    return {
        panel_key(index, palette): f"{stem}-{index}-{palette}.svg"
        for index, _ in enumerate(metric_names(runs[0]))
        for palette in PALETTE_NAMES
    }
