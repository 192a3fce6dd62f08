"""Parsing snippet files: named cells, their lines in the file, the header."""

import re
from pathlib import Path

import pytest

from dlexec.errors import AuthoringError
from dlexec.sources.snippets import DataFile, load_snippet

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
    assert snippet.header.data == (DataFile("datasets/a.csv", line=2),)
    assert snippet.header.data_names == ("datasets/a.csv",)
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


def test_unknown_header_key_is_rejected_at_its_line(tmp_path):
    path = write(tmp_path, "# ---\n# timeout: 3\n# dataa: [x]\n# ---\n\n# %% a\nx = 1\n")
    with pytest.raises(
        AuthoringError,
        match=r"s\.py:3: unknown snippet header key 'dataa'; allowed: data, timeout, tolerance",
    ):
        load_snippet(path)


def test_missing_snippet_file(tmp_path):
    with pytest.raises(AuthoringError, match="does not exist"):
        load_snippet(tmp_path / "missing.py")


def header(tmp_path: Path, *lines: str, name: str = "s.py"):
    """Load a snippet whose header holds `lines` (the first of them is file line 2)."""
    path = tmp_path / name
    body = "".join(f"# {line}\n" if line else "#\n" for line in lines)
    path.write_text(f"# ---\n{body}# ---\n\n# %% a\nx = 1\n")
    return load_snippet(path).header


SHA = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
URL = "https://storage.googleapis.com/download.tensorflow.org/data/shakespeare.txt"


def test_data_entries_with_origin_and_hash(tmp_path):
    found = header(
        tmp_path,
        "data:",
        "  - datasets/airline-passengers.csv",
        "  - file: datasets/shakespeare.txt",
        f"    origin: {URL}",
        f"    sha256: {SHA}",
        "  - file: datasets/b.npz",
        f"    sha256: {SHA}",
        "timeout: 60",
    )
    assert found.data == (
        DataFile("datasets/airline-passengers.csv", line=3),
        DataFile("datasets/shakespeare.txt", URL, SHA, line=4),
        DataFile("datasets/b.npz", sha256=SHA, line=7),
    )
    assert found.timeout == 60.0 and found.tolerance is None


def test_data_as_one_string_or_a_flow_list(tmp_path):
    assert header(tmp_path, "data: datasets/a.csv").data_names == ("datasets/a.csv",)
    assert header(tmp_path, "data: [a.csv, d/b.csv]").data_names == ("a.csv", "d/b.csv")
    assert header(tmp_path, "data: []").data == ()


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("/etc/passwd", "must be a relative path"),
        ("../secrets.txt", "must be a relative path"),
        ("datasets/../../x", "must be a relative path"),
        ("datasets/./x", "must be a relative path"),
        ("datasets//x", "must be a relative path"),
        (r"'datasets\x'", "must be a relative path"),
        ("datasets/a b", "must be a relative path"),
        ("a" * 201, "must be a relative path"),
        (
            "{file: x, origin: 'ftp://h/x', sha256: " + SHA + "}",
            "must be an https:// or http:// URL",
        ),
        ("{file: x, origin: 'javascript:alert(1)', sha256: " + SHA + "}", "https:// or http://"),
        ("{file: x, origin: 'https://'}", "https:// or http:// URL"),
        ("{file: x, origin: 'https://h/x'}", "has an 'origin' but no 'sha256'"),
        ("{file: x, sha256: ABC}", "must be 64 lowercase hex digits"),
        ("{file: x, sha256: " + SHA.upper() + "}", "must be 64 lowercase hex digits"),
        ("{file: x, size: 3}", "unknown key 'size' in a 'data' entry"),
        ("{origin: 'https://h/x'}", "must be a file name or a mapping with 'file:'"),
        ("3", "must be a file name or a mapping"),
    ],
)
def test_bad_data_entry_is_reported_at_its_line(tmp_path, entry, problem):
    with pytest.raises(AuthoringError, match=r"s\.py:4: .*" + re.escape(problem)):
        header(tmp_path, "timeout: 5", "data:", f"  - {entry}")


def test_duplicate_data_file(tmp_path):
    with pytest.raises(
        AuthoringError, match=r"s\.py:4: data file 'a\.csv' is declared twice \(first on line 3\)"
    ):
        header(tmp_path, "data:", "  - a.csv", "  - {file: a.csv, sha256: " + SHA + "}")


@pytest.mark.parametrize("value", [".inf", ".nan", "true", "false", "0", "-1", "86401", "'30'", ""])
def test_bad_timeout_names_key_value_rule_and_line(tmp_path, value):
    with pytest.raises(
        AuthoringError,
        match=r"s\.py:3: snippet header 'timeout' \(seconds\) is .*; it must be a finite",
    ):
        header(tmp_path, "data: [a.csv]", f"timeout: {value}")


def test_timeout_message_shows_value_and_rule(tmp_path):
    with pytest.raises(
        AuthoringError, match=r"is True; it must be a finite number > 0 and <= 86400"
    ):
        header(tmp_path, "timeout: true")


@pytest.mark.parametrize(("value", "number"), [("0", 0.0), ("0.0001", 0.0001), ("0.003", 0.003)])
def test_tolerance(tmp_path, value, number):
    assert header(tmp_path, f"tolerance: {value}").tolerance == number


# Capped at verify-results' own 0.003: a header may tighten the check, never loosen it.
@pytest.mark.parametrize("value", ["-0.1", "0.0031", "0.1", ".nan", ".inf", "true", "'0.001'"])
def test_bad_tolerance_at_its_line(tmp_path, value):
    with pytest.raises(
        AuthoringError,
        match=r"s\.py:4: snippet header 'tolerance' \(relative\) is .*>= 0 and <= 0\.003",
    ):
        header(tmp_path, "timeout: 5", "", f"tolerance: {value}")


def test_header_lines_after_a_shebang(tmp_path):
    path = tmp_path / "s.py"
    path.write_text("#!/usr/bin/env python\n# ---\n# timeout: .nan\n# ---\n\n# %% a\nx = 1\n")
    with pytest.raises(AuthoringError, match=r"s\.py:3: snippet header 'timeout'"):
        load_snippet(path)


@pytest.mark.parametrize("name", ["<img src=x onerror=alert(1)>", "a b", "s.v2", "é"])
def test_snippet_file_name_must_be_safe(tmp_path, name):
    path = tmp_path / f"{name}.py"
    path.write_text("# %% a\nx = 1\n")
    with pytest.raises(AuthoringError, match=r"snippet file name .* may only use letters"):
        load_snippet(path)


def test_a_parsed_snippet_is_cached_by_its_text_and_errors_are_not(tmp_path: Path):
    from dlexec.sources.snippets import load_snippet

    cache = tmp_path / "cache"
    path = tmp_path / "s.py"
    path.write_text("# ---\n# timeout: 30\n# resources: {cpus: 1}\n# ---\n\n# %% a\nx = 1\n")
    first = load_snippet(path, cache)
    assert len(list(cache.iterdir())) == 1
    assert load_snippet(path, cache) == first == load_snippet(path)
    path.write_text("# %% a\nx = 2\n")  # another text: another entry
    assert load_snippet(path, cache).cells[0].source == "x = 2"
    for entry in cache.iterdir():
        entry.write_text("{not json")  # a damaged entry is parsed again
    assert load_snippet(path, cache).cells[0].source == "x = 2"
    path.write_text("# ---\n# timeout: -1\n# ---\n# %% a\nx = 1\n")
    for _ in range(2):
        with pytest.raises(AuthoringError, match="timeout"):
            load_snippet(path, cache)


def test_an_alias_bomb_in_the_header_gets_a_short_error_at_its_line(tmp_path: Path):
    """Issue 23: nested YAML aliases under `timeout:` made a 39 MB one-line error message."""
    value = '&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
    for previous, name in zip("abcdef", "bcdefg", strict=True):
        value = f"[{value}, &{name} [" + ",".join([f"*{previous}"] * 9) + "]]"
    path = tmp_path / "s.py"
    path.write_text(f"# ---\n# timeout: {value}\n# ---\n# %% a\nx = 1\n")
    with pytest.raises(AuthoringError) as refused:
        load_snippet(path)
    message = str(refused.value)
    assert message.startswith(f"{path}:2: snippet header 'timeout' (seconds) is [[[[...]")
    assert len(message) < 1000


def test_an_error_message_is_capped_in_length():
    from dlexec.errors import MAX_MESSAGE, EngineError

    message = str(EngineError("x" * 10_000_000))
    assert len(message) < MAX_MESSAGE + 100
    assert message.endswith("... (9,996,000 more characters cut)")


def test_binary_sizes_parse_in_a_fresh_process():
    """The claim parser stands alone: `1GiB` parsed where no scheduler module was imported
    (a split once left the binary units behind, in the scheduler)."""
    import subprocess
    import sys

    code = (
        "from dlexec.errors import Location\n"
        "from dlexec.sources.needs import parse_size\n"
        "print(parse_size('1GiB', Location(None)), parse_size('512MiB', Location(None)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == [str(2**30), str(2**29)], done.stderr
