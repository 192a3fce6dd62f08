"""Files the engine writes and reads: atomic replacement, and reads that refuse symlinks."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def read_plain(path: Path, limit: int = 256 * 1024 * 1024) -> bytes:
    """At most `limit` + 1 bytes of a regular file (more than `limit` means too large),
    refusing a symlink: a committed one could name any file of the machine."""
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(handle, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise ValueError("not a regular file")
        return stream.read(limit + 1)


def lock_path(folder: Path, name: Path, suffix: str) -> Path:
    """The lock file in `folder` for `name` (its slashes flattened), the folder made."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name.as_posix().strip('/').replace('/', '__')}{suffix}"


def atomic_write(target: Path, content: bytes) -> None:
    """Write `content` to `target` through a temporary file renamed into place."""
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        os.fchmod(handle, 0o644)  # mkstemp makes 0600 files; results are shared, reviewable files
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
