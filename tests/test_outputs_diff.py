"""`dlexec diff REF`: what changed in the committed results since a git ref, in a temporary git
repository: values before → after (numbers and strings), a new result's values, a removed
result, and results folders whose snippet no longer exists."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import KEY_INPUTS as INPUTS
from conftest import git

from dlexec.tools.cli import main
from dlexec.tools.outputs_diff import (
    MAX_SHOWN,
    describe,
    describe_orphans,
    orphans,
    report,
    results_at,
    results_now,
)

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def write_result(root: Path, name: str, values: dict[str, Any], **changes: Any) -> None:
    """results/<name>/result.json and snippets/<name>.py."""
    inputs = {**INPUTS, **changes.pop("inputs", {})}
    document = {
        "snippet": f"snippets/{name}.py",
        "key": changes.pop("key", "k1"),
        "inputs": inputs,
        "provenance": {},
        "cells": [],
        "values": values,
        "files": {},
    }
    folder = root / "results" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(document, indent=1) + "\n")
    snippet = root / "snippets" / f"{name}.py"
    snippet.parent.mkdir(parents=True, exist_ok=True)
    snippet.write_text(f"# %% {name}\nx = 1\n")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with two committed results, `cnn` and `gone`, at the tag `base`."""
    git(tmp_path, "init", "-q")
    (tmp_path / "pyproject.toml").write_text("[tool.dlexec]\n")
    write_result(tmp_path, "cnn", {"accuracy": 0.91, "epochs": 3, "activation": "relu"})
    write_result(tmp_path, "gone", {"loss": 0.5})
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    git(tmp_path, "tag", "base")
    return tmp_path


def diff_lines(root: Path) -> list[str]:
    return report(root, root / "results", root / "snippets", "base")


def test_nothing_changed(repo: Path) -> None:
    assert diff_lines(repo) == ["no result changed"]


def test_changed_values_before_after_unchanged_not_listed(repo: Path) -> None:
    write_result(
        repo,
        "cnn",
        {"accuracy": 0.93, "epochs": 3, "activation": "gelu", "note": "new"},
        key="k2",
        inputs={"source_sha256": "b" * 64, "keras": "3.16.0"},
    )
    lines = diff_lines(repo)
    assert lines == [
        "cnn: re-executed (keras 3.15.1 → 3.16.0, snippet source)",
        "    accuracy: 0.91 → 0.93 (+0.02)",
        "    activation: 'relu' → 'gelu'",
        "    note: (absent) → 'new'",
    ]
    assert not any("epochs" in line for line in lines)


def test_long_string_truncated(repo: Path) -> None:
    before, after = "x" * 200 + "a", "x" * 200 + "b"
    write_result(repo, "cnn", {"accuracy": 0.91, "epochs": 3, "activation": before}, key="k2")
    git(repo, "commit", "-q", "-am", "long string")
    git(repo, "tag", "-f", "base")
    write_result(repo, "cnn", {"accuracy": 0.91, "epochs": 3, "activation": after}, key="k3")
    (line,) = diff_lines(repo)[1:]
    shown = line.removeprefix("    activation: ").split(" → ")[0]
    assert len(shown) == MAX_SHOWN and shown.startswith("'xxx") and shown.endswith("…")
    assert line.endswith("(first difference at character 200)")


def test_same_key_different_values(repo: Path) -> None:
    write_result(repo, "cnn", {"accuracy": 0.91, "epochs": 4, "activation": "relu"})
    assert diff_lines(repo) == [
        "cnn: values changed with the same cache key (run again?)",
        "    epochs: 3 → 4 (+1)",
    ]


def test_re_executed_with_same_values(repo: Path) -> None:
    values = {"accuracy": 0.91, "epochs": 3, "activation": "relu"}
    write_result(repo, "cnn", values, key="k2", inputs={"engine": "7"})
    assert diff_lines(repo) == ["cnn: re-executed (engine version); values unchanged"]


def test_new_result_lists_its_values(repo: Path) -> None:
    write_result(repo, "rnn", {"units": 32, "text": "To be, or not", "ok": True, "mse": 0.0123456})
    assert diff_lines(repo) == [
        "rnn: new result",
        "    units: 32",
        "    text: 'To be, or not'",
        "    ok: True",
        "    mse: 0.01235",
    ]


def test_removed_result(repo: Path) -> None:
    git(repo, "rm", "-q", "-r", "results/gone", "snippets/gone.py")
    assert diff_lines(repo) == ["gone: result removed"]


def test_rename_is_hinted_on_both_sides(repo: Path) -> None:
    """A snippet renamed with its results moved: removed + new result with the same source."""
    git(repo, "mv", "results/gone", "results/kept")
    git(repo, "mv", "snippets/gone.py", "snippets/kept.py")
    assert diff_lines(repo) == [
        "gone: result removed",
        "kept: new result (same snippet source as removed gone: renamed?)",
        "    loss: 0.5",
    ]


def test_orphan_results_folder_reported_not_deleted(repo: Path) -> None:
    """Renaming the snippet only leaves results/gone/ behind: reported, with the command."""
    source = (repo / "snippets" / "gone.py").read_text()
    git(repo, "mv", "snippets/gone.py", "snippets/renamed.py")
    document = json.loads((repo / "results" / "gone" / "result.json").read_text())
    document["inputs"]["source_sha256"] = hashlib.sha256(source.encode()).hexdigest()
    (repo / "results" / "gone" / "result.json").write_text(json.dumps(document))
    git(repo, "commit", "-q", "-am", "rename without results")
    git(repo, "tag", "-f", "base")
    assert orphans(repo / "results", repo / "snippets") == ["gone"]
    assert diff_lines(repo) == [
        "no result changed",
        "orphan results (1): no snippet produces them any more",
        "results/gone/: snippets/gone.py does not exist; snippets/renamed.py has the same "
        "source: renamed?",
        "    remove it: git rm -r results/gone",
    ]
    assert (repo / "results" / "gone" / "result.json").is_file()


def test_untracked_orphan_and_nested_results(repo: Path) -> None:
    """An uncommitted orphan gets `rm -r`; results of snippets in subfolders are no orphans."""
    write_result(repo, "posts_a/model", {"n": 1})
    (repo / "results" / "stray").mkdir()
    (repo / "results" / "stray" / "figure.png").write_bytes(b"png")
    assert orphans(repo / "results", repo / "snippets") == ["stray"]
    assert describe_orphans(repo, repo / "results", repo / "snippets") == [
        "orphan results (1): no snippet produces them any more",
        "results/stray/: snippets/stray.py does not exist",
        "    remove it: rm -r results/stray",
    ]


def test_results_at_and_now(repo: Path) -> None:
    assert set(results_at(repo, repo / "results", "base")) == {"cnn", "gone"}
    write_result(repo, "posts_a/model", {"n": 1})
    assert set(results_now(repo / "results")) == {"cnn", "gone", "posts_a/model"}


def test_describe_numbers_nan_and_types() -> None:
    nan = float("nan")
    before = {"r": {"key": "1", "values": {"nan": nan, "flag": 1, "same": "s"}}}
    after = {"r": {"key": "1", "values": {"nan": nan, "flag": True, "same": "s"}}}
    assert describe(before, after) == [
        "r: values changed with the same cache key (run again?)",
        "    flag: 1 → True",
    ]


def test_cli_diff(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_result(repo, "cnn", {"accuracy": 0.95, "epochs": 3, "activation": "relu"}, key="k2")
    (repo / "snippets" / "gone.py").unlink()
    assert main(["--root", str(repo), "diff", "base"]) == 0
    out = capsys.readouterr().out
    assert "cnn: re-executed (same inputs)\n    accuracy: 0.91 → 0.95 (+0.04)\n" in out
    assert "results/gone/: snippets/gone.py does not exist" in out
    assert "git rm -r results/gone" in out


def test_cli_diff_unknown_ref(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(repo), "diff", "no-such-ref"]) == 1
    assert "error: git ls-tree" in capsys.readouterr().err
