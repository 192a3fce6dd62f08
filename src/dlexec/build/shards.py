"""Sharded execution: `prepare --shard I/N` executes one deterministic share of the stale snippets.

Snippet number k (counting from 0) of the sorted list of every snippet the posts use belongs to
shard k mod N + 1. The split depends only on the posts, not on which results are fresh, so
shards agree whether they run on separate checkouts of one commit (a CI matrix) or one after
another in the same checkout; each executes the stale snippets of its share, and their results
merge by file (each snippet owns its `results/<name>/` folder).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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

    def members(self, snippets: Iterable[Path]) -> set[Path]:
        """The snippets (paths relative to the project) that belong to this shard."""
        ordered = sorted(set(snippets), key=lambda path: path.as_posix())
        return set(ordered[self.index - 1 :: self.count])
