"""Converted notebook pages, cached: an unchanged notebook is not converted again.

Converting a notebook to a page (nbconvert, through mkdocs-jupyter) is the slow part of a build
that executes nothing. An entry holds what the converter made of one notebook, as JSON, keyed by
a SHA-256 of everything that changes it: the notebook's bytes, the converter's settings and the
versions of the packages that convert (`CONVERTERS`). Entries are written atomically (a
temporary file renamed into place), so an interrupted build leaves a whole entry or none; an
entry that cannot be read counts as missing and is converted again. Files that several entries
share (the converter's stylesheet) are stored once, named by their SHA-256.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..files import atomic_write

FORMAT = 2  # bump when the layout of an entry changes
# The packages whose code turns a notebook into a page: mkdocs-jupyter drives nbconvert, which
# renders Markdown with mistune and highlights code with Pygments; Python-Markdown reads the
# table of contents, nbformat and jupytext read the notebook.
CONVERTERS = (
    "mkdocs-jupyter",
    "nbconvert",
    "mistune",
    "pygments",
    "markdown",
    "nbformat",
    "jupytext",
)


@cache
def converter_versions(packages: tuple[str, ...] = CONVERTERS) -> dict[str, str | None]:
    """Installed version of each package (None when it is not installed)."""
    versions: dict[str, str | None] = {}
    for package in packages:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return versions


def conversion_key(
    notebook: bytes, settings: Mapping[str, Any], packages: tuple[str, ...] = CONVERTERS
) -> str:
    """The cache key of converting `notebook` with `settings` by the installed `packages`."""
    context = {"format": FORMAT, "settings": settings, "versions": converter_versions(packages)}
    digest = hashlib.sha256(json.dumps(context, sort_keys=True, default=repr).encode())
    digest.update(b"\0")
    digest.update(notebook)
    return digest.hexdigest()


class PageCache:
    """A folder of converted pages, one `<key>.json` each, and the files they share. It remembers
    which entries and files this build looked up or stored, so that `evict_unused` can drop those
    of notebooks gone or changed since."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.used: set[str] = set()  # file names in `folder`

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        """The entry stored under `key`; None when it is missing or cannot be read."""
        self.used.add(self.path(key).name)
        try:
            entry = json.loads(self.path(key).read_bytes())
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) else None

    def store(self, key: str, entry: Mapping[str, Any]) -> None:
        self.used.add(self.path(key).name)
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path(key), json.dumps(entry, ensure_ascii=False).encode())

    def store_file(self, content: bytes, suffix: str) -> str:
        """Store `content` once under its SHA-256 (plus `suffix`); returns the file's name."""
        name = hashlib.sha256(content).hexdigest() + suffix
        self.used.add(name)
        if not (self.folder / name).is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write(self.folder / name, content)
        return name

    def shared_file(self, name: str) -> Path | None:
        """The stored file `name` (from `store_file`); None when it is missing."""
        self.used.add(name)
        path = self.folder / name
        return path if path.is_file() else None

    def evict_unused(self) -> list[Path]:
        """Remove the entries and files this build did not use (after a build that rendered
        every page). Dot files are other builds' writes in progress."""
        if not self.folder.is_dir():
            return []
        removed = []
        for path in sorted(self.folder.iterdir()):
            if path.is_file() and not path.name.startswith(".") and path.name not in self.used:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed
