"""History capture and output typing, without a kernel (the fixture-site test covers one)."""

import base64
import io
import re
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from dlexec.capture import _kernel
from dlexec.capture.cells import capture_cell
from dlexec.capture.plots import curve_files
from dlexec.store.curves import metric_names
from dlexec.store.outputs import HistoryOutput, ImageOutput, TextOutput
from dlexec.store.result_checks import svg_problem


def test_history_record_is_plain_json_with_one_based_epochs():
    history = SimpleNamespace(
        epoch=[0, 1],
        history={"loss": [np.float32(0.5), 0.25], "val_loss": [0.6, float("nan")]},
    )
    record = _kernel._history_record(SimpleNamespace(name="m"), history, ())
    assert record == {
        "model": "m",
        "epochs": [1, 2],
        "metrics": {"loss": [0.5, 0.25], "val_loss": [0.6, None]},
    }


@pytest.mark.slow
def test_an_early_stopping_restore_is_recorded_with_its_epoch():
    """Keras' EarlyStopping puts back its best weights at the end of training whenever
    `restore_best_weights` is on, stopped early or not; without it nothing is restored."""
    import keras

    inputs, targets = np.arange(8, dtype="float32")[:, None], np.zeros(8, dtype="float32")
    for restore, expected in ((True, {"restored_epoch"}), (False, set())):
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)], name="m")
        model.compile(optimizer="sgd", loss="mse")
        stopping = keras.callbacks.EarlyStopping("loss", patience=1, restore_best_weights=restore)
        history = model.fit(inputs, targets, epochs=3, callbacks=[stopping], verbose=0)
        record = _kernel._history_record(model, history, [keras.callbacks.History(), stopping])
        assert set(record) - {"model", "epochs", "metrics"} == expected
        if restore:
            assert record["restored_epoch"] == stopping.best_epoch + 1 in record["epochs"]


def test_a_restored_epoch_is_marked_on_every_panel_and_nothing_else():
    history = HistoryOutput(
        "m",
        [1, 2, 3],
        {"loss": [1, 0.5, 0.4], "val_loss": [1.1, 0.7, 0.8], "accuracy": [0.5, 0.6, 0.7]},
        restored_epoch=2,
    )
    files = curve_files(history)
    for key in ("0/light", "1/dark"):
        assert "restored: epoch 2" in files[key][1].decode()
    kept_last = curve_files(HistoryOutput("m", history.epochs, history.metrics))
    assert kept_last["0/light"][0] != files["0/light"][0]  # another figure, another file
    assert (
        capture_cell(
            [
                {
                    "output_type": "display_data",
                    "data": {
                        _kernel.HISTORY_MIME: {
                            "model": "m",
                            "epochs": [1],
                            "metrics": {},
                            "restored_epoch": 5,
                        }
                    },
                    "metadata": {},
                }
            ]
        )
        .outputs[0]
        .type
        == "text"
    )  # a restored epoch that is not one of the epochs is refused


def test_published_history_becomes_a_history_output_in_place():
    record = {
        "model": "m",
        "epochs": [1, 2],
        "metrics": {"accuracy": [0.5, 0.7], "loss": [1.0, 0.8]},
    }
    raw = [
        {"output_type": "stream", "name": "stdout", "text": "Epoch 1/2\n"},
        {"output_type": "display_data", "data": {_kernel.HISTORY_MIME: record}, "metadata": {}},
        {"output_type": "stream", "name": "stdout", "text": "done\n"},
    ]
    outputs = capture_cell(raw).outputs
    assert outputs == [
        TextOutput("stdout", "Epoch 1/2\n"),
        HistoryOutput("m", [1, 2], record["metrics"]),
        TextOutput("stdout", "done\n"),
    ]


def test_adjacent_text_of_one_stream_is_merged_and_empty_text_dropped():
    raw = [
        {"output_type": "stream", "name": "stdout", "text": "a\n"},
        {"output_type": "stream", "name": "stdout", "text": "b\n"},
        {"output_type": "stream", "name": "stderr", "text": "I0000 00:00:1.1    1 x.cc:1] noise\n"},
    ]
    assert capture_cell(raw).outputs == [TextOutput("stdout", "a\nb\n")]


def test_images_become_content_addressed_files():
    buffer = io.BytesIO()
    Image.new("RGB", (600, 400), "white").save(buffer, format="PNG")
    png = buffer.getvalue()
    raw = [
        {
            "output_type": "display_data",
            "data": {"image/png": base64.b64encode(png).decode(), "text/plain": "<Figure>"},
            "metadata": {"image/png": {"width": 300}},
        }
    ]
    captured = capture_cell(raw)
    [image] = captured.outputs
    assert isinstance(image, ImageOutput) and image.width == 300 and image.mime == "image/png"
    [stored] = captured.files.values()  # stored as fewer colours when that is smaller
    assert len(stored) <= len(png)
    assert (
        Image.open(io.BytesIO(stored)).convert("RGB").tobytes()
        == Image.open(io.BytesIO(png)).convert("RGB").tobytes()
    )
    assert image.file.startswith("figure-") and image.file.endswith(".png")


def test_curves_have_light_and_dark_variants_and_validation():
    history = HistoryOutput(
        "m",
        [1, 2, 3],
        {
            "loss": [1, 0.5, 0.4],
            "val_loss": [1.1, 0.7, 0.8],
            "accuracy": [0.5, 0.6, 0.7],
            "val_accuracy": [0.4, 0.6, 0.5],
        },
    )
    assert metric_names(history) == ["accuracy", "loss"]
    files = curve_files(history)
    # One panel per metric and palette for pages, one white card of all metrics for notebooks.
    assert set(files) == {"0/light", "0/dark", "1/light", "1/dark", "card"}
    accuracy, loss = files["0/light"][1].decode(), files["1/light"][1].decode()
    assert "validation" in loss
    # The last epoch's weights were kept: no epoch is marked, not even the best validation one.
    assert "epoch 2" not in loss + accuracy and "restored" not in loss + accuracy
    assert files["0/light"][0] != files["0/dark"][0]
    card = files["card"][1].decode()
    assert "Training curves: model &#x27;m&#x27;" in card or "model 'm'" in card
    assert 'style="fill: #ffffff' in card  # an opaque white card, legible in a dark viewer
    assert curve_files(history) == files  # deterministic bytes: stable diffs of committed results


def test_a_loss_falling_tenfold_is_drawn_on_a_log_axis_and_a_flatter_one_is_not():
    """A loss's story (where validation turns, how it oscillates) sits in its tail, which a
    linear axis squashes into its floor once the loss has fallen by an order of magnitude.
    The log axis is labelled in plain numbers: the drawing stays one a stored result may hold."""
    steep = HistoryOutput(
        "m", [1, 2, 3, 4], {"loss": [1, 0.1, 0.05, 0.02], "val_loss": [1.1, 0.2, 0.1, 0.15]}
    )
    flat = HistoryOutput("m", [1, 2, 3, 4], {"loss": [1, 0.5, 0.4, 0.3], "accuracy": [0.1] * 4})
    for palette in ("0/light", "0/dark", "card"):
        drawing = curve_files(steep)[palette][1]
        assert svg_problem(drawing) is None
        assert tick_labels(drawing) >= {"0.02", "0.05", "0.1", "0.2", "0.5", "1"}
    flat_panel = curve_files(flat)["1/light"][1]
    assert tick_labels(flat_panel) >= {"0.4", "0.6", "0.8", "1.0"}  # its loss: a linear axis
    # An accuracy rising tenfold keeps a linear axis: higher is better, its story is at the top.
    rising = HistoryOutput("m", [1, 2, 3], {"accuracy": [0.05, 0.5, 0.9]})
    assert {"0.02", "0.05"}.isdisjoint(tick_labels(curve_files(rising)["0/light"][1]))


def tick_labels(svg: bytes) -> set[str]:
    return set(re.findall(r"<text[^>]*>([^<]*)</text>", svg.decode()))


def test_a_model_with_several_losses_plots_each_and_not_their_sum():
    """A GAN trained as one Keras model logs each output's loss and `loss`, their sum: the
    discriminator's and the generator's losses pull against each other, so the sum is no
    quantity anyone trains towards and gets no panel. One output keeps its `loss`."""
    gan = HistoryOutput(
        "gan",
        [1, 2],
        {
            "d_fake_loss": [0.7, 0.6],
            "d_real_loss": [0.6, 0.5],
            "g_fool_loss": [0.8, 0.9],
            "loss": [2.1, 2.0],
        },
    )
    assert metric_names(gan) == ["d_fake_loss", "d_real_loss", "g_fool_loss"]
    assert len([key for key in curve_files(gan) if key.endswith("/light")]) == 3
    single = HistoryOutput("m", [1], {"out_loss": [0.5], "loss": [0.5], "accuracy": [0.9]})
    assert metric_names(single) == ["accuracy", "out_loss", "loss"]
