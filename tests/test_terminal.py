"""Nothing a snippet prints, raises or names reaches the build's terminal as a control sequence:
escape sequences (clear screen, window title, OSC 8 hyperlinks), bells and C1 controls are
shown as `cat -v` shows them, even with stderr redirected to a file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import engine_project, mkdocs_build

from dlexec.errors import EngineError, Location, visible

# Clear the screen, set the window title, a hyperlink to another site, a C1 CSI, a bell.
PAYLOAD = "\x1b[2J\x1b]0;pwned\x07 \x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\ \x9b31m red \x07"
CONTROLS = ("\x1b", "\x07", "\x9b")


def test_control_characters_are_shown_not_sent():
    assert visible("a\x1b[2Jb\tc\nd\x07\x7f\x9b\x00") == "a^[[2Jb\tc\nd^G^?M-^[^@"
    assert visible("Epoch 3/10 — ½ done") == "Epoch 3/10 — ½ done"  # printable Unicode stays


def test_an_error_message_quoting_a_snippet_is_visible_text():
    error = EngineError("snippet failed: RuntimeError: \x1b]0;title\x07", Location(Path("s.py"), 3))
    assert str(error) == "s.py:3: snippet failed: RuntimeError: ^[]0;title^G"


@pytest.mark.kernel
def test_a_hostile_exception_reaches_the_build_output_as_visible_text(tmp_path: Path):
    """`dlexec prepare` with stdout and stderr in files, as in CI: the error summary, the log
    lines and the run's own output carry no control character."""
    code = f'print("before")\nraise RuntimeError({PAYLOAD!r})\n'
    engine_project(tmp_path, {"hostile": f"# %% cell\n{code}"})
    done = subprocess.run(
        [sys.executable, "-m", "dlexec", "--root", str(tmp_path), "prepare"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    printed = done.stdout + done.stderr
    assert "snippets/hostile.py:3: snippet failed: RuntimeError: ^[[2J^[]0;pwned^G" in printed
    assert "M-^[31m red" in printed
    assert not [control for control in CONTROLS if control in printed], printed


@pytest.mark.kernel
@pytest.mark.build
def test_the_mkdocs_build_reports_a_hostile_error_as_visible_text(site_project: Path):
    """The same through the MkDocs hook: its error summary fails the build on stderr."""
    snippet = site_project / "snippets" / "tiny.py"
    snippet.write_text(f"# %% data\nraise RuntimeError({PAYLOAD!r})\n\n# %% train\nx = 1\n")
    built = mkdocs_build(site_project)
    assert built.returncode != 0
    printed = built.stdout + built.stderr
    assert "snippets/tiny.py:2: snippet failed: RuntimeError: ^[[2J^[]0;pwned^G" in printed
    assert not [control for control in CONTROLS if control in printed], printed
