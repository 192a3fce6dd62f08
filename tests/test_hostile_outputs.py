"""A snippet chooses its outputs: hostile or broken ones become notices, never crashes, script,
or a build that runs out of memory. Raw nbformat-like outputs go straight to capture_cell."""

from __future__ import annotations

import base64
import io
import math
import os
import time

import pytest
from PIL import Image

from dlexec.capture import _kernel, images
from dlexec.capture.cells import FileBudget, capture_cell, provenance, values
from dlexec.store.outputs import HistoryOutput, ImageOutput, TextOutput

SVG_NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def encode(image: Image.Image, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def noise_png(side: int, mode: str = "RGB") -> bytes:
    """Random pixels do not compress: about 3 bytes per pixel (1 in grey, which the engine
    stores as it is; colour noise it stores as 256 colours, about 1 byte per pixel)."""
    channels = len(mode)
    return encode(Image.frombytes(mode, (side, side), os.urandom(side * side * channels)))


def display(mime: str, payload, metadata: dict | None = None) -> dict:
    if isinstance(payload, bytes):
        payload = base64.b64encode(payload).decode()
    return {
        "output_type": "display_data",
        "data": {mime: payload, "text/plain": "<Figure>"},
        "metadata": metadata or {},
    }


def notices(captured) -> str:
    return "".join(
        o.text for o in captured.outputs if isinstance(o, TextOutput) and o.stream == "stderr"
    )


def only_notice(raw: list[dict]) -> str:
    captured = capture_cell(raw)
    assert captured.files == {}
    assert all(isinstance(o, TextOutput) for o in captured.outputs), captured.outputs
    text = notices(captured)
    assert text.startswith("[") and text.endswith("]\n"), text
    return text


# -- figures that are not what they claim -----------------------------------------------------


@pytest.mark.parametrize(
    ("mime", "payload", "reason"),
    [
        ("image/png", encode(Image.new("RGB", (8, 8)), "JPEG"), "not a valid PNG"),
        ("image/jpeg", encode(Image.new("RGB", (8, 8))), "not a valid JPEG"),
        ("image/png", encode(Image.new("RGB", (8, 8)), "GIF"), "not a valid PNG"),
        ("image/png", b"<script>alert(1)</script>", "not a valid PNG"),
        ("image/png", b"\x89PNG\r\n\x1a\n fake", "not a valid PNG"),
        ("image/png", encode(Image.new("RGB", (64, 64)))[:60], "not a valid PNG"),  # truncated
        ("image/png", "not base64 at all!", "not valid base64"),
        ("image/png", "iVBORw0KGgo", "not valid base64"),  # bad padding
        ("image/png", {"src": "x"}, "not text"),
        ("image/jpeg", 12, "not text"),
        ("image/png", "", "not a valid PNG"),
    ],
)
def test_a_figure_that_is_not_its_mime_type_becomes_a_notice(mime, payload, reason):
    text = only_notice([display(mime, payload)])
    assert f"a figure ({mime}) was left out" in text and reason in text


def test_base64_in_lines_as_nbformat_stores_it_is_accepted():
    png = encode(Image.new("RGB", (10, 10), "red"))
    encoded = base64.b64encode(png).decode()
    lines = [encoded[i : i + 20] + "\n" for i in range(0, len(encoded), 20)]
    captured = capture_cell([display("image/png", lines)])
    [image] = captured.outputs
    assert isinstance(image, ImageOutput) and captured.files[image.file] == png


# -- sizes ---------------------------------------------------------------------------------------


def test_a_figure_over_the_per_figure_limit_becomes_a_notice_with_size_and_limit():
    png = noise_png(1400)  # about 5.6 MB
    assert len(png) > images.MAX_IMAGE_BYTES
    text = only_notice([display("image/png", png)])
    assert "over the limit of 5.0 MB per figure" in text and f"{len(png) / 2**20:.1f} MB" in text


def test_huge_base64_is_refused_before_decoding():
    text = only_notice([display("image/png", "A" * (50 * 1024 * 1024))])
    assert "over the limit of 5.0 MB per figure" in text


def test_figures_over_the_cell_budget_are_left_out_with_a_notice():
    pngs = [noise_png(2150, "L") for _ in range(5)]  # about 4.4 MB each: four fit in 20 MB
    captured = capture_cell([display("image/png", png) for png in pngs])
    kept = [o for o in captured.outputs if isinstance(o, ImageOutput)]
    assert len(kept) == 4 and sum(map(len, captured.files.values())) <= 20 * 1024 * 1024
    text = notices(captured)
    assert "was left out" in text and "20.0 MB allowed" in text


def test_a_budget_can_span_several_cells_and_repeats_cost_nothing():
    png = encode(Image.new("RGB", (50, 50), "blue"))
    budget = FileBudget(limit=len(png) + 10)
    first = capture_cell([display("image/png", png), display("image/png", png)], budget)
    assert [type(o) for o in first.outputs] == [ImageOutput, ImageOutput]  # one file, shown twice
    other = encode(Image.new("RGB", (50, 50), "green"))
    second = capture_cell([display("image/png", other)], budget)
    assert second.files == {} and "was left out" in notices(second)


def test_a_large_figure_is_downscaled_to_fit_and_its_size_recorded():
    wide = encode(Image.new("RGB", (6000, 300), "white"))
    captured = capture_cell([display("image/png", wide, {"image/png": {"width": 3000}})])
    [image] = captured.outputs
    assert isinstance(image, ImageOutput) and image.mime == "image/png"
    with Image.open(io.BytesIO(captured.files[image.file])) as stored:
        assert stored.format == "PNG" and stored.size == (4096, 205)
    assert image.width == 2048  # the displayed (retina) width, scaled like the pixels


def test_a_large_figure_without_metadata_records_its_new_pixel_size():
    tall = encode(Image.new("L", (200, 5000), 128))
    [image] = capture_cell([display("image/png", tall)]).outputs
    assert (image.width, image.height) == (164, 4096)


def test_a_large_jpeg_stays_a_jpeg():
    photo = encode(Image.new("RGB", (5000, 100), "white"), "JPEG")
    captured = capture_cell([display("image/jpeg", photo)])
    [image] = captured.outputs
    assert image.mime == "image/jpeg" and image.file.endswith(".jpg")
    with Image.open(io.BytesIO(captured.files[image.file])) as stored:
        assert stored.format == "JPEG" and stored.size == (4096, 82)


def test_decompression_bombs_become_notices():
    bomb = encode(Image.new("1", (20_000, 20_000)))  # 400 M pixels in a few dozen kilobytes
    assert len(bomb) < 1024 * 1024
    text = only_notice([display("image/png", bomb)])
    assert "too large to decode safely" in text or "over the limit" in text
    big = encode(Image.new("1", (9000, 9000)))  # over our own pixel limit
    assert "over the limit of 67,108,864 pixels" in only_notice([display("image/png", big)])


@pytest.mark.parametrize("width", ["300px", True, -5, 0, float("nan"), float("inf"), 10**12, None])
def test_odd_display_sizes_are_dropped(width):
    png = encode(Image.new("RGB", (10, 10)))
    [image] = capture_cell([display("image/png", png, {"image/png": {"width": width}})]).outputs
    assert image.width is None


# -- SVG -----------------------------------------------------------------------------------------


def test_svg_with_script_is_published_only_as_a_png_drawn_from_it():
    svg = (
        f'<svg {SVG_NS} width="40" height="20" onload="alert(1)"><script>alert(2)</script>'
        '<rect width="20" height="20" fill="red"/></svg>'
    )
    captured = capture_cell([display("image/svg+xml", svg)])
    [image] = captured.outputs
    assert isinstance(image, ImageOutput) and image.mime == "image/png"
    assert image.file.endswith(".png") and (image.width, image.height) == (40, 20)
    content = captured.files[image.file]
    assert b"script" not in content and b"alert" not in content
    with Image.open(io.BytesIO(content)) as drawn:
        assert drawn.format == "PNG" and drawn.getpixel((5, 5))[:3] == (255, 0, 0)


@pytest.mark.parametrize(
    "svg",
    [
        f'<svg {SVG_NS} width="9" height="9"><image xlink:href="file:///etc/passwd" '
        'width="9" height="9"/></svg>',
        f'<svg {SVG_NS} width="9" height="9"><image href="http://127.0.0.1:1/x.png" '
        'width="9" height="9"/></svg>',
        f'<svg {SVG_NS} width="9" height="9"><image xlink:href="data:image/png;base64,'
        'iVBORw0KGgo=" width="9" height="9"/></svg>',
        f'<svg {SVG_NS} width="9" height="9"><use xlink:href="/etc/hosts#a"/></svg>',
        f'<svg {SVG_NS} width="9" height="9"><style>@import url(file:///etc/passwd);</style></svg>',
    ],
    ids=["file-image", "network-image", "data-image", "file-use", "css-import"],
)
def test_svg_that_refers_to_any_url_is_refused(svg):
    text = only_notice([display("image/svg+xml", svg)])
    assert "figures may not load files or URLs" in text


@pytest.mark.parametrize(
    ("svg", "reason"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            f'<svg {SVG_NS} width="9" height="9"><text>&x;</text></svg>',
            "EntitiesForbidden",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            f'<svg {SVG_NS} width="9" height="9"><text>&b;</text></svg>',
            "EntitiesForbidden",
        ),
        ("<svg", "could not be drawn"),
        (f'<svg {SVG_NS} width="0" height="10"/>', "could not be drawn"),
        (f'<svg {SVG_NS} width="1e999" height="10"/>', "could not be drawn"),
        ("<svg>" + " " * (3 * 1024 * 1024) + "</svg>", "per SVG document"),
        (["<svg ", 3], "not text"),
    ],
    ids=["xxe", "entity-expansion", "not-xml", "no-size", "infinite-size", "too-long", "not-text"],
)
def test_broken_or_hostile_svg_becomes_a_notice(svg, reason):
    text = only_notice([display("image/svg+xml", svg)])
    assert "a figure (image/svg+xml) was left out" in text and reason in text


def test_a_huge_svg_is_drawn_within_the_pixel_cap():
    svg = f'<svg {SVG_NS} width="100in" height="50in"><rect width="100%" height="100%"/></svg>'
    captured = capture_cell([display("image/svg+xml", svg)])
    [image] = captured.outputs
    assert (image.width, image.height) == (4096, 2048)
    with Image.open(io.BytesIO(captured.files[image.file])) as drawn:
        assert drawn.size == (4096, 2048)


def test_an_svg_that_takes_too_long_becomes_a_notice(monkeypatch):
    monkeypatch.setattr(images, "SVG_TIMEOUT_S", 0.001)
    text = only_notice([display("image/svg+xml", f'<svg {SVG_NS} width="9" height="9"/>')])
    assert "took longer than" in text


# -- History records -----------------------------------------------------------------------------

GOOD = {"model": "m", "epochs": [1, 2], "metrics": {"loss": [1.0, 0.5]}}


@pytest.mark.parametrize(
    "record",
    [
        None,
        "history",
        [GOOD],
        {**GOOD, "model": 3},
        {**GOOD, "model": ["m"]},
        {**GOOD, "model": "m" * 10_000},
        {k: v for k, v in GOOD.items() if k != "epochs"},
        {**GOOD, "epochs": "1,2"},
        {**GOOD, "epochs": [1, "2"]},
        {**GOOD, "epochs": [1, 2.5]},
        {**GOOD, "epochs": [True, False]},
        {**GOOD, "epochs": [1, -2]},
        {**GOOD, "epochs": [1, 10**30]},
        {**GOOD, "metrics": [[1.0, 0.5]]},
        {**GOOD, "metrics": {"loss": [1.0]}},
        {**GOOD, "metrics": {"loss": "1.0,0.5"}},
        {**GOOD, "metrics": {"loss": [1.0, "NaN"]}},
        {**GOOD, "metrics": {"loss": ["Infinity", "-Infinity"]}},
        {**GOOD, "metrics": {"loss": [1.0, [0.5]]}},
        {**GOOD, "metrics": {"loss": [1.0, {"v": 1}]}},
        {**GOOD, "metrics": {"loss": [1.0, True]}},
        {**GOOD, "metrics": {"loss": [1.0, 10**400]}},
        {**GOOD, "metrics": {"": [1.0, 0.5]}},
        {**GOOD, "metrics": {f"m{i}": [1.0, 0.5] for i in range(1000)}},
        {"model": "m", "epochs": list(range(200_000)), "metrics": {}},
        {"model": "m", "epochs": [1], "metrics": {"loss": [0.0] * 200_000}},
    ],
)
def test_a_malformed_history_becomes_a_notice(record):
    raw = [{"output_type": "display_data", "data": {_kernel.HISTORY_MIME: record}, "metadata": {}}]
    text = only_notice(raw)
    assert text.startswith("[a training history was left out: ")


def test_non_finite_metric_values_become_null_and_numbers_floats():
    record = {"model": "m", "epochs": [1, 2, 3], "metrics": {"loss": [1, math.nan, math.inf]}}
    raw = [{"output_type": "display_data", "data": {_kernel.HISTORY_MIME: record}, "metadata": {}}]
    [history] = capture_cell(raw).outputs
    assert history == HistoryOutput("m", [1, 2, 3], {"loss": [1.0, None, None]})


def test_an_empty_history_is_kept():
    record = {"model": "m", "epochs": [], "metrics": {}}
    raw = [{"output_type": "display_data", "data": {_kernel.HISTORY_MIME: record}, "metadata": {}}]
    assert capture_cell(raw).outputs == [HistoryOutput("m", [], {})]


# -- other shapes ----------------------------------------------------------------------------------


def test_odd_output_shapes_never_crash():
    raw = [
        "not an output",
        {"output_type": "stream", "name": '"><script>alert(1)</script>', "text": "a\n"},
        {"output_type": "stream", "name": "stdout", "text": ["b", "\n"]},
        {"output_type": "stream", "name": "stdout", "text": 42},
        {"output_type": "display_data", "data": "text/plain", "metadata": {}},
        {"output_type": "display_data", "data": {"text/plain": {"x": 1}}, "metadata": []},
        {"output_type": "execute_result", "data": {"text/plain": ["1", "2"]}, "metadata": None},
        {"output_type": "error", "ename": 3, "evalue": None, "traceback": "not a list"},
        {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["a", 1, None]},
        {"output_type": "unknown"},
    ]
    outputs = capture_cell(raw).outputs
    streams = [o.stream for o in outputs if isinstance(o, TextOutput)]
    assert set(streams) <= {"stdout", "stderr", "result"}
    assert TextOutput("stdout", "a\nb\n") in outputs
    assert TextOutput("result", "12\n") in outputs


def test_hostile_text_is_cleaned_but_kept_as_text():
    raw = [
        {"output_type": "stream", "name": "stdout", "text": "<script>\x1b]0;x\x07alert(1)\x00\n"}
    ]
    assert capture_cell(raw).outputs == [TextOutput("stdout", "<script>alert(1)\n")]


def test_a_huge_error_is_truncated():
    raw = [
        {
            "output_type": "error",
            "ename": "E" * 10_000,
            "evalue": "line\n" * 100_000,
            "traceback": ["frame"] * 100_000,
        }
    ]
    [error] = capture_cell(raw).outputs
    assert len(error.ename) <= 200
    assert len(error.evalue) < 10_000 and "cut from this output" in error.evalue
    assert len(error.traceback) < 10_000 and "cut from this output" in error.traceback


def test_many_small_stream_outputs_merge_in_linear_time():
    raw = [{"output_type": "stream", "name": "stdout", "text": "x"} for _ in range(300_000)]
    start = time.process_time()
    [text] = capture_cell(raw).outputs
    assert time.process_time() - start < 30  # linear: about a second; quadratic: hours
    assert text.text.startswith("x" * 2000)


def test_published_values_and_provenance_must_be_plain():
    raw = [
        {"output_type": "display_data", "data": {_kernel.VALUES_MIME: "junk"}},
        {"output_type": "display_data", "data": {_kernel.VALUES_MIME: ["a", "b"]}},
        {
            "output_type": "display_data",
            "data": {
                _kernel.VALUES_MIME: {
                    "accuracy": 0.9,
                    "n": 3,
                    "ok": True,
                    "name": "m",
                    "nan": math.nan,
                    "nested": {"a": 1},
                    "long": "x" * 10_000,
                },
                _kernel.PROVENANCE_MIME: {"device": "CPU", "keras": ["3"]},
            },
        },
    ]
    assert values(raw) == {"accuracy": 0.9, "n": 3, "ok": True, "name": "m"}
    assert provenance(raw) == {"device": "CPU"}


def test_an_output_that_breaks_while_read_becomes_a_notice():
    class Evil(dict):
        def get(self, *args):
            raise RuntimeError("boom at 0x7f00")

    assert only_notice([Evil()]) == "[an output could not be captured (RuntimeError)]\n"


def test_only_so_many_svg_figures_are_drawn():
    svg = f'<svg {SVG_NS} width="9" height="9"/>'
    budget = FileBudget(svgs_left=1)
    captured = capture_cell([display("image/svg+xml", svg), display("image/svg+xml", svg)], budget)
    assert isinstance(captured.outputs[0], ImageOutput)
    assert "only 20 SVG figures are drawn" in notices(captured)
