"""Stored results: atomic writes, checksums that catch truncation and hand edits."""

import json
from pathlib import Path

import pytest

from dlexec.outputs import ImageOutput, TextOutput
from dlexec.results import CellResult, CorruptResult, Result, load_result, save_result


def sample() -> tuple[Result, dict[str, bytes]]:
    result = Result(
        snippet="snippets/s.py",
        key="k",
        inputs={"engine": "1"},
        provenance={"device": "CPU"},
        cells=[
            CellResult(
                0,
                "a",
                [
                    TextOutput("stdout", "line 1\nline 2\n"),
                    ImageOutput("figure-1.png", "image/png"),
                ],
            )
        ],
        values={"accuracy": 0.9},
    )
    return result, {"figure-1.png": b"png bytes"}


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
    (tmp_path / "figure-1.png").write_bytes(b"other")
    with pytest.raises(CorruptResult, match=r"figure-1\.png"):
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

    monkeypatch.setattr("dlexec.results.os.replace", crash)
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
