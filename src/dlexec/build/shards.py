"""Sharded execution: `prepare --shard I/N` executes one deterministic share of the stale snippets.

The snippets are split by their last recorded run time, so that the shards finish together:
longest first, each to the shard with the least time so far (LPT scheduling, within 4/3 of the
best possible split). The times are those of the results committed at `HEAD`, read with git,
so every shard computes the same split: on separate checkouts of one commit (a CI matrix) and
one after another in the same checkout, where an earlier shard's new results are not yet
committed. A snippet with no recorded time counts as the mean of those known; when no time is
known at all (a fresh blog, a project outside git), snippet number k of the sorted list belongs
to shard k mod N + 1. The split covers every snippet the posts use, stale or not; each shard
executes the stale snippets of its share, and their results merge by file (each snippet owns
its `results/<name>/` folder).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import EngineError

SHARD = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based, as CI matrices count)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = SHARD.fullmatch(text.strip())
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise EngineError(f"--shard {text!r}: write I/N with 1 <= I <= N, e.g. 1/2")
        return cls(int(match[1]), int(match[2]))

    def members(
        self, snippets: Iterable[Path], seconds: Mapping[Path, float] | None = None
    ) -> set[Path]:
        """The snippets (paths relative to the project) that belong to this shard."""
        return set(split(snippets, self.count, seconds or {})[self.index - 1])


def split(snippets: Iterable[Path], count: int, seconds: Mapping[Path, float]) -> list[list[Path]]:
    """`count` shares of `snippets`, balanced by `seconds` (see the module's docstring)."""
    ordered = sorted(set(snippets), key=lambda path: path.as_posix())
    known = [seconds[path] for path in ordered if path in seconds]
    if not known:
        return [ordered[index::count] for index in range(count)]
    unknown = sum(known) / len(known)
    expected = {path: seconds.get(path, unknown) for path in ordered}
    shares: list[list[Path]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for path in sorted(ordered, key=lambda path: (-expected[path], path.as_posix())):
        lightest = min(range(count), key=lambda index: (loads[index], index))
        shares[lightest].append(path)
        loads[lightest] += expected[path]
    return shares


def makespan(shares: list[list[Path]], seconds: Mapping[Path, float]) -> float:
    """The time the slowest share takes, summing the snippets' times (unknown ones: 0)."""
    return max((sum(seconds.get(path, 0.0) for path in share) for share in shares), default=0.0)


def committed_seconds(root: Path, result_files: Mapping[Path, Path]) -> dict[Path, float]:
    """Snippet -> the wall time recorded in its `result.json` as committed at HEAD, for the
    snippets whose result git has there. Empty outside a git checkout. A result is untrusted
    input, but a time only moves work between shards: one that is not a finite, non-negative
    number counts as unknown."""
    if not result_files:
        return {}
    names = "".join(f"HEAD:./{file.as_posix()}\n" for file in result_files.values())
    try:
        done = subprocess.run(
            ["git", "cat-file", "--batch"],
            cwd=root,
            input=names.encode(),
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if done.returncode != 0:
        return {}
    seconds = {}
    for snippet, blob in zip(result_files, _blobs(done.stdout), strict=False):
        wall = _wall_time(blob)
        if wall is not None:
            seconds[snippet] = wall
    return seconds


def _blobs(output: bytes) -> Iterable[bytes | None]:
    """The objects of `git cat-file --batch` output, in order (None for a missing one)."""
    position = 0
    while position < len(output):
        end = output.index(b"\n", position)
        header = output[position:end].split()
        position = end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            yield output[position : position + size]
            position += size + 1  # the object, then a newline
        else:
            yield None  # "<name> missing", or not a blob


def _wall_time(blob: bytes | None) -> float | None:
    if blob is None:
        return None
    try:
        value = json.loads(blob).get("provenance", {}).get("wall_time_s")
    except (ValueError, AttributeError):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None
