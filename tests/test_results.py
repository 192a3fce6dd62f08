"""Stored results: atomic writes, checksums that catch truncation and hand edits."""

import hashlib
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from dlexec.store.outputs import HistoryOutput, ImageOutput, TextOutput
from dlexec.store.results import CellResult, CorruptResult, Result, load_result, save_result

INPUTS = {"source_sha256": "s", "engine": "1", "tensorflow": "2", "keras": "3", "data": {}}


def png(color: str = "red") -> tuple[str, bytes]:
    """A real PNG and the name the engine gives it (the digest of its bytes)."""
    from PIL import Image

    stream = io.BytesIO()
    Image.new("RGB", (4, 3), color).save(stream, "PNG")
    content = stream.getvalue()
    return f"figure-{hashlib.sha256(content).hexdigest()[:16]}.png", content


FIGURE, FIGURE_BYTES = png()


def sample() -> tuple[Result, dict[str, bytes]]:
    result = Result(
        snippet="snippets/s.py",
        key="k",
        inputs=INPUTS,
        provenance={"device": "CPU"},
        cells=[
            CellResult(
                0,
                "a",
                [
                    TextOutput("stdout", "line 1\nline 2\n"),
                    ImageOutput(FIGURE, "image/png"),
                ],
            )
        ],
        values={"accuracy": 0.9},
    )
    return result, {FIGURE: FIGURE_BYTES}


def test_round_trip(tmp_path: Path):
    saved = save_result(tmp_path, *sample())
    assert load_result(tmp_path) == saved
    document = json.loads((tmp_path / "result.json").read_text())
    assert document["cells"][0]["outputs"][0]["text"] == ["line 1\n", "line 2\n"]  # diff-friendly


def test_missing_result_is_none(tmp_path: Path):
    assert load_result(tmp_path) is None


def test_truncated_result_is_detected(tmp_path: Path):
    save_result(tmp_path, *sample())
    path = tmp_path / "result.json"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptResult, match="unreadable"):
        load_result(tmp_path)


def test_hand_edited_result_is_detected(tmp_path: Path):
    save_result(tmp_path, *sample())
    path = tmp_path / "result.json"
    path.write_text(path.read_text().replace("0.9", "0.99"))
    with pytest.raises(CorruptResult, match="checksum mismatch"):
        load_result(tmp_path)


def test_changed_figure_is_detected(tmp_path: Path):
    save_result(tmp_path, *sample())
    (tmp_path / FIGURE).write_bytes(b"other")
    with pytest.raises(CorruptResult, match=FIGURE):
        load_result(tmp_path)


def test_new_result_replaces_old_files(tmp_path: Path):
    save_result(tmp_path, *sample())
    result, _ = sample()
    result = Result(**{**result.__dict__, "cells": [CellResult(0, "a", [])]})
    save_result(tmp_path, result, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_interrupted_write_keeps_previous_result(tmp_path: Path, monkeypatch):
    saved = save_result(tmp_path, *sample())

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("dlexec.files.os.replace", crash)
    result, files = sample()
    with pytest.raises(KeyboardInterrupt):
        save_result(
            tmp_path,
            Result(**{**result.__dict__, "values": {"accuracy": 0.1}}),
            {**files, "figure-2.png": b"x"},
        )
    monkeypatch.undo()
    assert load_result(tmp_path) == saved
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# -- a committed result is untrusted input: forged with a recomputed checksum ------------------


def _add_figure(name: str, sha256: str, mime: str = "image/png"):
    def edit(document: dict) -> None:
        document["files"][name] = sha256
        image = {"type": "image", "file": name, "mime": mime, "width": None, "height": None}
        document["cells"][0]["outputs"].append(image)

    return edit


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


HOST_FILE = Path("/etc/passwd")
FORGERIES = {  # what a forgery does -> (the edit, what the refusal says)
    "absolute path": (
        _add_figure(str(HOST_FILE), _sha(HOST_FILE.read_bytes())),
        "is not a name the engine gives",
    ),
    "parent path": (
        _add_figure("../../../etc/passwd", _sha(HOST_FILE.read_bytes())),
        "is not a name the engine gives",
    ),
    "a file no output uses": (
        lambda d: d["files"].update({"figure-" + "0" * 16 + ".png": "0" * 64}),
        "in the files map or used by an output, not both",
    ),
    "a PNG called a JPEG": (
        lambda d: d["cells"][0]["outputs"][1].update(mime="image/jpeg"),
        "not a name the engine gives a image/jpeg figure",
    ),
    "a snippet path that breaks out of the code fence": (
        lambda d: d.update(snippet='snippets/s.py"\n```\n<script>alert(1)</script>\n```\n.py'),
        "result.snippet must match pattern",
    ),
    "a value that is an object": (
        lambda d: d["values"].update(accuracy={"html": "<b>"}),
        "result.values.accuracy cannot be validated",
    ),
    "text that is not text": (
        lambda d: d["cells"][0]["outputs"][0].update(text=[{"a": 1}]),
        r"result.cells\[0\].outputs\[0\] cannot be validated",
    ),
    "a width that is not a number": (
        lambda d: d["cells"][0]["outputs"][1].update(width="9e9"),
        r"result.cells\[0\].outputs\[1\] cannot be validated",
    ),
    "a 10 MB string value": (
        lambda d: d["values"].update(accuracy="9" * 10_000_000),
        "result.values.accuracy cannot be validated",
    ),
    "a 1 MB device in the provenance line": (
        lambda d: d["provenance"].update(device="H100 " * 200_000),
        "result.provenance.device cannot be validated",
    ),
    "an unknown field": (
        lambda d: d.update(page_html="<script>"),
        "result must not contain {'page_html'} properties",
    ),
}


@pytest.mark.parametrize(("edit", "refusal"), FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_result_is_corrupted_whatever_its_checksum(tmp_path: Path, edit, refusal):
    from conftest import forge_result

    save_result(tmp_path, *sample())
    forge_result(tmp_path, edit)
    with pytest.raises(CorruptResult, match=refusal):
        load_result(tmp_path)


def test_a_symlinked_figure_is_never_read(tmp_path: Path):
    """A figure file that links elsewhere (here to a copy of its own bytes, so its digest and
    name match) is refused: a link could as well name any file of the build machine."""
    folder, elsewhere = tmp_path / "result", tmp_path / "elsewhere.png"
    save_result(folder, *sample())
    elsewhere.write_bytes(FIGURE_BYTES)
    (folder / FIGURE).unlink()
    (folder / FIGURE).symlink_to(elsewhere)
    with pytest.raises(CorruptResult, match="cannot be opened as a plain file"):
        load_result(folder)


def test_a_symlinked_result_or_folder_is_never_read(tmp_path: Path):
    real = tmp_path / "real"
    save_result(real, *sample())
    (tmp_path / "linked").symlink_to(real)
    with pytest.raises(CorruptResult, match="a symlink"):
        load_result(tmp_path / "linked")
    other = tmp_path / "other"
    other.mkdir()
    (other / "result.json").symlink_to(real / "result.json")
    with pytest.raises(CorruptResult, match="unreadable"):
        load_result(other)


def test_a_figure_must_be_the_image_its_name_says(tmp_path: Path):
    """The name is the digest of the bytes, and the bytes must start like a PNG: an HTML page
    renamed to a figure name is refused."""
    page = b"<html><script>alert(1)</script></html>"
    name = f"figure-{_sha(page)[:16]}.png"
    save_result(tmp_path, *sample())
    (tmp_path / name).write_bytes(page)
    forge_result_edit = _add_figure(name, _sha(page))
    from conftest import forge_result

    forge_result(tmp_path, forge_result_edit)
    with pytest.raises(CorruptResult, match="not a PNG image"):
        load_result(tmp_path)


SVG_FORGERIES = {
    "a script": (b"<g ", b"<script>alert(1)</script><g "),
    "an event handler": (b"<svg ", b'<svg onload="alert(1)" '),
    "a style sheet instruction": (b"<svg ", b'<?xml-stylesheet href="https://x.test/a.xsl"?><svg '),
    "an outside link": (b'xlink:href="#', b'xlink:href="https://x.test/#'),
    "an outside style": (b'style="', b'style="background: url(https://x.test/t.png); '),
    "an entity": (b"<svg ", b'<!DOCTYPE x [<!ENTITY e "e">]><svg '),
    "a foreign element": (b"<g ", b"<foreignObject><p>hi</p></foreignObject><g "),
}


@pytest.mark.parametrize(("marker", "forged"), SVG_FORGERIES.values(), ids=SVG_FORGERIES.keys())
def test_a_curve_file_holds_only_what_matplotlib_draws(marker: bytes, forged: bytes):
    from dlexec.capture.plots import curve_files
    from dlexec.store.result_checks import svg_problem

    history = HistoryOutput("m", [1, 2], {"loss": [1.0, 0.5]})
    [(_, drawn), *_] = curve_files(history).values()
    assert svg_problem(drawn) is None
    assert marker in drawn
    assert svg_problem(drawn.replace(marker, forged, 1)) is not None


def test_a_forged_matrix_counts_as_none(tmp_path: Path):
    """matrix.json comes from pull requests too: one the engine would not write (a value that
    is markup in an object, a 10 MB string) or a symlink is not read; its runs count as missing."""
    from dlexec.backends import Variant
    from dlexec.store.records import VariantRecord, load_matrix, store_record

    record = VariantRecord(Variant("jax"), "k", {"backend": "jax"}, values={"accuracy": 0.9})
    store_record(tmp_path, record, tmp_path / ".locks")
    assert list(load_matrix(tmp_path)) == [Variant("jax")]
    path = tmp_path / "matrix.json"
    honest = path.read_text()
    for forged in ('{"html": "<script>"}', '"' + "9" * 10_000_000 + '"'):
        path.write_text(honest.replace("0.9", forged))
        assert load_matrix(tmp_path) == {}
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(honest)
    path.unlink()
    path.symlink_to(elsewhere)
    assert load_matrix(tmp_path) == {}


def test_a_backends_outputs_are_stored_once_and_a_forged_file_in_them_counts_as_none(
    tmp_path: Path,
):
    """A backend's record keeps its outputs and their files beside the main result's (one
    file per content); a record whose outputs name a host file, a symlink or an SVG with a
    script is not read, so nothing of it reaches a page or the site's files."""
    from dlexec.backends import Variant
    from dlexec.capture.plots import curve_files
    from dlexec.store.records import VariantRecord, load_matrix, store_record, tab_outputs

    history = HistoryOutput("m", [1, 2], {"loss": [1.0, 0.5]})
    curves = curve_files(history)
    plots = {key: name for key, (name, _) in curves.items()}
    run = [CellResult(0, None, [TextOutput("stdout", "hi\n"), replace(history, plots=plots)])]
    cells, drawn = tab_outputs(run, dict(curves.values()))
    assert len(drawn) == len(curves) - 1  # the panels, without the notebook's card
    digests = {name: hashlib.sha256(content).hexdigest() for name, content in drawn.items()}
    record = VariantRecord(Variant("jax"), "k", {}, cells=cells, files=digests)
    store_record(tmp_path, record, tmp_path / ".locks", drawn)
    store_record(tmp_path, replace(record, variant=Variant("torch")), tmp_path / ".locks", drawn)
    [jax, torch] = load_matrix(tmp_path).values()
    assert jax.cells == cells and torch.files == digests
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".svg") == sorted(drawn)
    path = tmp_path / "matrix.json"
    honest = path.read_text()
    name = sorted(drawn)[0]
    (tmp_path / "passwd").write_text("root:x:0:0\n")
    for forged in ("../passwd", "passwd", "/etc/passwd"):
        path.write_text(honest.replace(name, forged))
        assert load_matrix(tmp_path) == {}, forged
    svg = tmp_path / name
    svg.write_bytes(drawn[name].replace(b"<g ", b"<script>alert(1)</script><g ", 1))
    path.write_text(honest.replace(digests[name], hashlib.sha256(svg.read_bytes()).hexdigest()))
    assert load_matrix(tmp_path) == {}
    svg.unlink()
    svg.symlink_to(tmp_path / "passwd")
    path.write_text(honest)
    assert load_matrix(tmp_path) == {}
