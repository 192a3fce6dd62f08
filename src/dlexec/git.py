"""`git` for the commands that compare with a ref (diff, verify-results, pr-report, recheck)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .errors import AuthoringError


def git(root: Path, *args: str) -> str:
    """`git ARGS` run in `root`: its output, or an AuthoringError with git's message."""
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise AuthoringError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout
