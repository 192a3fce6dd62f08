"""Parsing snippet files: named cells, their lines in the file, the header."""

from pathlib import Path

import pytest

from dlexec.errors import AuthoringError
from dlexec.snippets import load_snippet

SOURCE = """# ---
# data: [datasets/a.csv]
# timeout: 30
# ---

# %% load
x = 1

# %% [markdown]
# Prose is not executed.

# %% train
y = x + 1
print(y)
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.py"
    path.write_text(text)
    return path


def test_cells_names_lines_and_header(tmp_path):
    snippet = load_snippet(write(tmp_path, SOURCE))
    assert [(c.name, c.source, c.first_line) for c in snippet.cells] == [
        ("load", "x = 1", 7),
        ("train", "y = x + 1\nprint(y)", 13),
    ]
    assert snippet.header.data == ("datasets/a.csv",)
    assert snippet.header.timeout == 30
    assert snippet.cell("train").index == 1
    assert snippet.cell("nope") is None


def test_code_before_the_first_marker_is_a_cell(tmp_path):
    snippet = load_snippet(write(tmp_path, "import os\n\n# %% named\nprint(os.sep)\n"))
    assert [(c.name, c.first_line) for c in snippet.cells] == [(None, 1), ("named", 4)]


def test_duplicate_cell_names_name_file_and_line(tmp_path):
    path = write(tmp_path, "# %% a\nx = 1\n\n# %% a\ny = 2\n")
    with pytest.raises(
        AuthoringError, match=r"s\.py:4: duplicate cell name 'a' \(first defined on line 1\)"
    ):
        load_snippet(path)


def test_malformed_header_names_file_and_line(tmp_path):
    path = write(tmp_path, "# ---\n# data: [unclosed\n# ---\n\n# %% a\nx = 1\n")
    with pytest.raises(AuthoringError, match=r"s\.py:\d+: malformed snippet header"):
        load_snippet(path)


def test_unknown_header_key_is_rejected(tmp_path):
    path = write(tmp_path, "# ---\n# dataa: [x]\n# ---\n\n# %% a\nx = 1\n")
    with pytest.raises(
        AuthoringError, match=r"s\.py:1: unknown snippet header key\(s\) \['dataa'\]"
    ):
        load_snippet(path)


def test_missing_snippet_file(tmp_path):
    with pytest.raises(AuthoringError, match="does not exist"):
        load_snippet(tmp_path / "missing.py")
