"""The code base stays clean under the Ruff rules configured in pyproject.toml, and every
snippet under them at 88 columns, the width a post shows without a scrollbar."""

import subprocess
import sys

from conftest import REPO


def test_ruff_finds_nothing():
    checked = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "hooks", "tests"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_snippet_is_formatted_and_clean_at_88_columns():
    for command in (["format", "--check"], ["check"]):
        checked = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--line-length", "88", "snippets"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
