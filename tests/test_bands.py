"""Curves over seeds: a fit recorded on further seeds is drawn as a mean with a min-to-max band
and the main run dotted, in both palettes, and the page shows those panels with a caption
that says what the band is."""

from __future__ import annotations

from pathlib import Path

from dlexec.backends import Variant
from dlexec.present.bands import band_plots
from dlexec.present.outputs_html import Links, history_html
from dlexec.store.curves import CARD, curve_names
from dlexec.store.outputs import HistoryOutput
from dlexec.store.records import VariantRecord
from dlexec.store.results import CellResult, Result


def history(model: str, accuracy: list[float]) -> HistoryOutput:
    epochs = list(range(1, len(accuracy) + 1))
    metrics = {"accuracy": accuracy, "val_accuracy": [a - 0.02 for a in accuracy]}
    made = HistoryOutput(model, epochs, metrics)
    return HistoryOutput(model, epochs, metrics, plots=curve_names(made))


def seeded(tmp_path: Path) -> tuple[Result, dict[Variant, VariantRecord]]:
    main = history("cnn", [0.90, 0.95, 0.97])
    result = Result("snippets/s.py", "k", {}, {}, [CellResult(0, "a", [main])])
    records = {
        Variant("tensorflow", seed): VariantRecord(
            Variant("tensorflow", seed),
            "v",
            {},
            histories=[{"model": "cnn", "epochs": [1, 2], "metrics": {"accuracy": [a, a + 0.04]}}],
        )
        for seed, a in ((1, 0.88), (2, 0.92))
    }
    records[Variant("jax")] = VariantRecord(Variant("jax"), "v", {}, histories=[])  # not a seed
    return result, records


def test_a_fit_on_three_seeds_is_drawn_as_a_band_in_both_palettes(tmp_path: Path):
    result, records = seeded(tmp_path)
    [(card, (runs, panels))] = band_plots(result, records, tmp_path / "bands").items()
    assert card == result.histories()[0].plots[CARD] and runs == 3
    assert sorted(panels) == ["0/dark", "0/light"]  # accuracy, validation on the same axes
    drawn = panels["0/light"].read_text()
    assert (
        "min to max of 3 seeds" in drawn and "main run" in drawn and "accuracy (3 seeds)" in drawn
    )
    again = band_plots(result, records, tmp_path / "bands")  # cached: nothing is drawn twice
    assert again == {card: (runs, panels)}


def test_a_fit_without_seeds_keeps_its_own_curves(tmp_path: Path):
    result, _ = seeded(tmp_path)
    assert band_plots(result, {}, tmp_path / "bands") == {}
    links = Links(asset=lambda folder, name: name)
    page = history_html(result.histories()[0], tmp_path, links)
    assert result.histories()[0].plots["0/light"] in page and "seeds" not in page


def test_the_page_shows_the_band_and_says_what_it_is(tmp_path: Path):
    result, records = seeded(tmp_path)
    [(runs, panels)] = band_plots(result, records, tmp_path / "bands").values()
    names = {key: path.name for key, path in panels.items()}
    links = Links(asset=lambda folder, name: name, band=lambda h: (runs, names))
    page = history_html(result.histories()[0], tmp_path, links)
    assert f'src="{names["0/light"]}#only-light"' in page
    assert f'src="{names["0/dark"]}#only-dark"' in page
    assert "over 3 seeds" in page and "the band runs from the lowest to the highest run" in page
