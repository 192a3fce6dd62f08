"""Find what a Markdown post asks of the engine: snippet embeds and value placeholders.

Embed: a line holding only a Markdown link to a snippet file, optionally to one named cell.
On GitHub it reads as a link to the code; in the site it becomes the code and its outputs:

    [Train the CNN](../snippets/mnist_cnn.py#train)

Placeholder: a value the snippet left in a top-level variable, formatted with a Python
format spec:

    The model reaches {{ mnist_cnn.test_accuracy:.1% }} on the test set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import AuthoringError, Location

EMBED = re.compile(
    r"^\[(?P<label>[^\]\n]*)\]\((?P<target>[^)\s#]+\.py)(?:#(?P<cell>[^)\s]*))?\)\s*$"
)
PLACEHOLDER = re.compile(
    r"\{\{\s*(?P<snippet>[A-Za-z_][\w-]*)\.(?P<value>[A-Za-z_]\w*)\s*(?::(?P<spec>[^}]*?))?\s*\}\}"
)
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


@dataclass(frozen=True)
class Embed:
    """`post` line `line` shows snippet `snippet` (absolute path), or only its cell `cell`."""

    post: Path
    line: int
    snippet: Path
    cell: str | None

    @property
    def location(self) -> Location:
        return Location(self.post, self.line)


@dataclass(frozen=True)
class Placeholder:
    """`post` line `line` shows value `value` of snippet `snippet` formatted with `spec`."""

    post: Path
    line: int
    snippet: str
    value: str
    spec: str
    text: str

    @property
    def location(self) -> Location:
        return Location(self.post, self.line)


@dataclass(frozen=True)
class PostReferences:
    """Everything one post references, in order of appearance."""

    post: Path
    embeds: tuple[Embed, ...]
    placeholders: tuple[Placeholder, ...]
    timeout: float | None = None  # front matter `snippet_timeout`: limit for its snippets


def front_matter(text: str, post: Path) -> tuple[dict, int]:
    """The post's YAML front matter and the number of lines it takes (0 without one)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, 0
    end = next((n for n in range(1, len(lines)) if lines[n].strip() in ("---", "...")), None)
    if end is None:
        raise AuthoringError("front matter opened with '---' is never closed", Location(post, 1))
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        raise AuthoringError(f"malformed front matter: {error}", Location(post, line)) from None
    if not isinstance(meta, dict):
        raise AuthoringError("front matter must be a YAML mapping", Location(post, 2))
    return meta, end + 1


def find_references(post: Path, snippets_dir: Path, text: str | None = None) -> PostReferences:
    """Scan a post (its whole file, so line numbers match the file) for embeds and placeholders."""
    text = post.read_text(encoding="utf-8") if text is None else text
    meta, _ = front_matter(text, post)  # validate early: MkDocs ignores broken front matter
    timeout = meta.get("snippet_timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise AuthoringError(
            "front matter 'snippet_timeout' must be a positive number of seconds", Location(post, 1)
        )
    embeds: list[Embed] = []
    placeholders: list[Placeholder] = []
    for number, line in prose_lines(text):
        match = EMBED.match(line.strip())
        if match:
            embeds.append(_embed(match, post, number, snippets_dir))
            continue
        placeholders.extend(
            Placeholder(post, number, m["snippet"], m["value"], (m["spec"] or "").strip(), m[0])
            for m in PLACEHOLDER.finditer(line)
        )
    return PostReferences(post, tuple(embeds), tuple(placeholders), timeout)


def prose_lines(text: str):
    """(line number, line) for lines outside fenced code blocks."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if match and (fence is None or match[1].startswith(fence)):
            fence = match[1][0] * len(match[1]) if fence is None else None
            continue
        if fence is None:
            yield number, line


def _embed(match: re.Match[str], post: Path, line: int, snippets_dir: Path) -> Embed:
    location = Location(post, line)
    target = (post.parent / match["target"]).resolve()
    if not target.is_relative_to(snippets_dir.resolve()):
        raise AuthoringError(
            f"embedded file {match['target']!r} is not in the snippets folder {snippets_dir}",
            location,
        )
    if not target.is_file():
        raise AuthoringError(
            f"snippet {match['target']!r} does not exist (looked for {target})", location
        )
    cell = match["cell"]
    if cell == "":
        raise AuthoringError("empty cell name after '#'", location)
    return Embed(post=post, line=line, snippet=target, cell=cell)
