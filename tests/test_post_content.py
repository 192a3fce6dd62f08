"""Editorial rules every post keeps, read from its Markdown source (no build needed)."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import REPO

from dlexec.sources.posts import front_matter

POSTS = sorted((REPO / "posts").glob("*.md"))
HEADING = re.compile(r"^(#{1,6}) ", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def body(post: Path) -> str:
    text = post.read_text(encoding="utf-8")
    _, end = front_matter(text, post)
    return FENCE.sub("", "\n".join(text.splitlines()[end:]))


@pytest.mark.parametrize("post", POSTS, ids=[post.stem for post in POSTS])
def test_headings_start_at_h2_under_the_title_and_skip_no_level(post: Path):
    levels = [len(match[1]) for match in HEADING.finditer(body(post))]
    assert levels[:1] == [1], f"{post.name}: the title is the one h1"
    assert 1 not in levels[1:], f"{post.name}: a second h1"
    assert levels[1:2] == [2], f"{post.name}: the first section is an h2"
    jumps = [(a, b) for a, b in pairwise(levels) if b > a + 1]
    assert not jumps, f"{post.name}: heading levels skipped {jumps}"


@pytest.mark.parametrize("post", POSTS, ids=[post.stem for post in POSTS])
def test_the_offline_build_note_is_said_once_at_most(post: Path):
    """Why a post uses the data it does is worth one short note, not a refrain."""
    mentions = len(re.findall(r"\boffline\b", body(post), re.IGNORECASE))
    assert mentions <= 1, f"{post.name}: 'offline' {mentions} times"
