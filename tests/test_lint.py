"""The code base stays clean under the Ruff rules configured in pyproject.toml."""

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
