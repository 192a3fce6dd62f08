"""Declared data: the engine fetches it before a run; the snippet never touches the network.

A snippet's header names each file it reads, relative to KERAS_HOME, and where it can be
downloaded with its SHA-256. Before the sandboxed run the engine takes each file from the
project cache (`.cache/keras`), else the read-only mirror, else downloads it from its origin
and verifies the hash. The kernel then finds it in its own KERAS_HOME, so the snippet keeps
the loading code a reader runs at home (`keras.utils.get_file(...)`).

Every path stays inside its base folder (no `..`, no symlink out of it), and only regular files
are read, up to a size bound: a header cannot make the build read `/proc` or copy files from
outside the project.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import DataMissingError, Location

MAX_DATA_BYTES = 4 << 30  # no declared file is read or downloaded beyond this
DOWNLOAD_TIMEOUT = 60  # seconds without progress before a download is abandoned


class DataTooLarge(Exception):
    """A data file exceeds MAX_DATA_BYTES."""


def confined(base: Path, name: str) -> Path | None:
    """`base/name` when it resolves inside `base` to a regular file, else None."""
    root = base.resolve()
    candidate = (root / name).resolve()
    if not candidate.is_relative_to(root):
        return None
    try:
        return candidate if stat.S_ISREG(candidate.stat().st_mode) else None
    except OSError:
        return None


def locate(name: str, keras_home: Path, mirror: Path) -> Path | None:
    """The file for data `name` (e.g. `datasets/reuters.npz`): project cache first, then mirror."""
    for base in (keras_home, mirror):
        found = confined(base, name)
        if found is not None:
            return found
    return None


def digest(path: Path, limit: int = MAX_DATA_BYTES) -> str:
    """SHA-256 of a regular file's bytes, reading at most `limit` bytes."""
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in _blocks(handle, limit, str(path)):
            sha.update(block)
    return sha.hexdigest()


def _blocks(stream: BinaryIO, limit: int, what: str) -> Iterator[bytes]:
    """The stream's bytes in blocks; DataTooLarge past `limit` bytes."""
    read = 0
    for block in iter(lambda: stream.read(1 << 20), b""):
        read += len(block)
        if read > limit:
            raise DataTooLarge(f"{what} is larger than {limit:,} bytes")
        yield block


def fetch(files: Iterable, keras_home: Path, mirror: Path, snippet: Path) -> dict[str, Path]:
    """Make every declared file available in the project cache, verified; name -> path.

    `files` are the header's DataFile entries (name, origin, sha256, line)."""
    fetched = {}
    for entry in files:
        where = Location(snippet, entry.line)
        fetched[entry.name] = _fetch_one(entry, keras_home, mirror, where)
    return fetched


def _fetch_one(entry, keras_home: Path, mirror: Path, where: Location) -> Path:
    cached = confined(keras_home, entry.name)
    if cached is not None and _matches(cached, entry.sha256, where):
        return cached
    source = confined(mirror, entry.name)
    if source is not None:
        _check(source, entry, where)
        return _store(keras_home, entry.name, lambda target: shutil.copyfile(source, target))
    if entry.origin:
        stored = _store(
            keras_home, entry.name, lambda target: _download(entry.origin, target, where)
        )
        _check(stored, entry, where, downloaded=True)
        return stored
    raise DataMissingError(missing_message(entry.name, keras_home, mirror), where)


def _matches(path: Path, sha256: str | None, where: Location) -> bool:
    try:
        return sha256 is None or digest(path) == sha256
    except DataTooLarge as error:
        raise DataMissingError(str(error), where) from None


def _check(path: Path, entry, where: Location, downloaded: bool = False) -> None:
    """Fail (and drop a downloaded file) unless the file has the declared hash."""
    if _matches(path, entry.sha256, where):
        return
    actual = digest(path)
    if downloaded:
        path.unlink(missing_ok=True)
    source = f"downloaded from {entry.origin}" if downloaded else f"found at {path}"
    raise DataMissingError(
        f"data file {entry.name!r} {source} has SHA-256 {actual}, but the header declares "
        f"{entry.sha256}: the file changed at its source, or the header's hash is wrong",
        where,
    )


def _store(keras_home: Path, name: str, write) -> Path:
    """Write a file under KERAS_HOME via a temporary name: never a half-written file."""
    target = keras_home.resolve() / name
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _download(origin: str, target: Path, where: Location) -> None:
    """Download `origin` into `target`, at most MAX_DATA_BYTES."""
    import urllib.error  # here: http and ssl cost every build that downloads nothing
    import urllib.request

    try:
        with urllib.request.urlopen(origin, timeout=DOWNLOAD_TIMEOUT) as response:
            _copy_bounded(response, target)
    except (urllib.error.URLError, OSError, ValueError, DataTooLarge) as error:
        raise DataMissingError(
            f"could not download {origin}: {getattr(error, 'reason', error)}. Without network, "
            "put the file in the data mirror (BLOG_DATA_MIRROR)",
            where,
        ) from None


def _copy_bounded(response: BinaryIO, target: Path) -> None:
    with target.open("wb") as out:
        for block in _blocks(response, MAX_DATA_BYTES, "the download"):
            out.write(block)


def missing_message(name: str, keras_home: Path, mirror: Path) -> str:
    """Say which file is missing, where it was looked for, and how to provide it."""
    return (
        f"data file {name!r} is not available: looked in {keras_home / name} and "
        f"{mirror / name}, and the header gives no origin to download it from. Put the file in "
        "the mirror folder, point BLOG_DATA_MIRROR at a folder that has it, or declare its "
        "`origin:` and `sha256:` in the snippet header so the engine downloads it"
    )
