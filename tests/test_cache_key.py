"""Cache keys change with each of their inputs, and with nothing else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlexec.errors import DataMissingError
from dlexec.sources.snippets import load_snippet
from dlexec.store import keys as cache_key
from dlexec.store.keys import key_inputs

SNIPPET = "# ---\n# data: [datasets/numbers.txt]\n# ---\n\n# %% a\nprint(1)\n"


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    home, mirror = tmp_path / "home", tmp_path / "mirror"
    (mirror / "datasets").mkdir(parents=True)
    (mirror / "datasets" / "numbers.txt").write_text("1 2 3\n")
    snippet = tmp_path / "snippets" / "s.py"
    snippet.parent.mkdir()
    snippet.write_text(SNIPPET)
    return {"home": home, "mirror": mirror, "snippet": snippet}


def key(layout: dict[str, Path]) -> str:
    return key_inputs(load_snippet(layout["snippet"]), layout["home"], layout["mirror"]).key


def test_key_is_stable(layout):
    assert key(layout) == key(layout)


def test_source_change_changes_key(layout):
    before = key(layout)
    layout["snippet"].write_text(SNIPPET.replace("print(1)", "print(2)"))
    assert key(layout) != before


def test_data_bytes_change_key(layout):
    before = key(layout)
    (layout["mirror"] / "datasets" / "numbers.txt").write_text("1 2 4\n")
    assert key(layout) != before


@pytest.mark.parametrize("package", ["tensorflow", "keras"])
def test_library_versions_change_key(layout, monkeypatch, package):
    before = key(layout)
    real = cache_key.installed_version
    monkeypatch.setattr(
        cache_key, "installed_version", lambda name: "9.9.9" if name == package else real(name)
    )
    assert key(layout) != before


def test_engine_version_changes_key(layout, monkeypatch):
    before = key(layout)
    monkeypatch.setattr(cache_key, "ENGINE_VERSION", "999")
    assert key(layout) != before


def test_nothing_else_changes_key(layout, tmp_path):
    before = key(layout)
    os.utime(layout["snippet"], (0, 0))  # file times
    moved = tmp_path / "elsewhere" / "s.py"  # location of the snippet
    moved.parent.mkdir()
    moved.write_text(layout["snippet"].read_text())
    (layout["home"] / "datasets").mkdir(parents=True)  # where the data is found
    (layout["home"] / "datasets" / "numbers.txt").write_text("1 2 3\n")
    assert key({**layout, "snippet": moved}) == before


def test_missing_data_uses_recorded_digest_or_fails_clearly(layout):
    inputs = key_inputs(load_snippet(layout["snippet"]), layout["home"], layout["mirror"])
    (layout["mirror"] / "datasets" / "numbers.txt").unlink()
    snippet = load_snippet(layout["snippet"])
    again = key_inputs(snippet, layout["home"], layout["mirror"], recorded_data=inputs.data)
    assert again.key == inputs.key
    with pytest.raises(
        DataMissingError, match=r"datasets/numbers.txt.*looked in.*BLOG_DATA_MIRROR"
    ):
        key_inputs(snippet, layout["home"], layout["mirror"])
