"""Offline data: seed the project's Keras cache (KERAS_HOME) from a read-only mirror.

Snippets keep the loading code a reader runs at home (`keras.utils.get_file(...)`,
`keras.datasets.reuters.load_data()`); Keras finds the seeded file and skips the download.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from .errors import DataMissingError, Location


def locate(name: str, keras_home: Path, mirror: Path) -> Path | None:
    """The file for data `name` (e.g. `datasets/reuters.npz`): project cache first, then mirror."""
    for base in (keras_home, mirror):
        candidate = base / name
        if candidate.is_file():
            return candidate
    return None


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def seed(names: tuple[str, ...], keras_home: Path, mirror: Path, snippet: Path) -> None:
    """Copy each declared data file from the mirror into KERAS_HOME unless already there."""
    for name in names:
        target = keras_home / name
        if target.is_file():
            continue
        source = mirror / name
        if not source.is_file():
            raise DataMissingError(missing_message(name, keras_home, mirror), Location(snippet))
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy under a temporary name, then rename: an interrupted copy leaves no partial file.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        os.close(handle)
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)


def missing_message(name: str, keras_home: Path, mirror: Path) -> str:
    """Say which file is missing, where it was looked for, and how to provide it."""
    return (
        f"data file {name!r} is not available offline: looked in {keras_home / name} and "
        f"{mirror / name}. Put the file in the mirror folder, point BLOG_DATA_MIRROR at a folder "
        f"that has it, or run once with internet access so Keras downloads it into {keras_home}."
    )
