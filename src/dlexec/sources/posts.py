"""Find what a Markdown post asks of the engine: snippet embeds and value placeholders.

Embed: a line holding only a Markdown link to a snippet file, optionally to one named cell.
On GitHub it reads as a link to the code; in the site it becomes the code and its outputs:

    [Train the CNN](../snippets/mnist_cnn.py#train)

Placeholder: a value the snippet left in a top-level variable, formatted with a Python
format spec:

    The model reaches {{ mnist_cnn.test_accuracy:.1% }} on the test set.

Only what Markdown shows as prose counts: embeds and placeholders in fenced or indented code,
in HTML comments, or (placeholders) in inline code spans are text, left as written.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import AuthoringError, Location
from . import yaml_lines
from .prose import placeholder_matches, prose_lines

EMBED = re.compile(
    r"^\[(?P<label>[^\]\n]*)\]\((?P<target>[^)\s#]+\.py)(?:#(?P<cell>[^)\s]*))?\)\s*$"
)
# Over the runs `make verify` recorded on the main backend (the main run and its seeds):
# range: lowest to highest; mean; sd; ci: the mean with its 95% interval (of the paired
# difference, for `a.x - b.y`); wilson: one run's test-sample interval, from `<value>_n`.
FILTERS = ("range", "mean", "sd", "ci", "rerun", "wilson")


@dataclass(frozen=True)
class Embed:
    """`post` line `line` shows snippet `snippet` (absolute path), or only its cell `cell`."""

    post: Path
    line: int
    snippet: Path
    cell: str | None
    target: str = ""  # the link as written, relative to the post

    @property
    def location(self) -> Location:
        return Location(self.post, self.line)


@dataclass(frozen=True)
class Placeholder:
    """`post` line `line` shows value `value` of snippet `snippet` formatted with `spec`, or its
    spread across seeds with the `range` filter."""

    post: Path
    line: int
    snippet: str
    value: str
    spec: str
    text: str
    filter: str = ""
    column: int = 0  # where `text` starts on its line
    minus: tuple[str, str] | None = None  # (snippet, value) subtracted: `{{ a.x - b.y }}`

    @property
    def snippets(self) -> tuple[str, ...]:
        """The snippets whose values it shows (two for a difference of two snippets)."""
        return (self.snippet,) if self.minus is None else (self.snippet, self.minus[0])

    @property
    def location(self) -> Location:
        return Location(self.post, self.line)

    @classmethod
    def from_match(cls, post: Path, line: int, match: re.Match[str]) -> Placeholder:
        spec = (match["spec"] or "").strip()
        return cls(
            post,
            line,
            match["snippet"],
            match["value"],
            spec,
            match[0],
            match["filter"] or "",
            match.start(),
            (match["minus_snippet"], match["minus_value"]) if match["minus_snippet"] else None,
        )


@dataclass(frozen=True)
class PostDocument:
    """One post, read and parsed once per build: its text, front matter (with each key's YAML
    nodes, for lines), where its body starts, and what it references in order of appearance.
    The build report carries it; pages, notebooks, claims and the adapter read it."""

    post: Path
    embeds: tuple[Embed, ...]
    placeholders: tuple[Placeholder, ...]
    timeout: float | None = None  # front matter `snippet_timeout`: limit for its snippets
    text: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    nodes: Mapping[str, tuple[yaml.Node, yaml.Node]] = field(default_factory=dict, repr=False)
    front_matter_lines: int = 0  # lines the front matter takes, its `---` lines included
    body_start: int = 1  # the file line where the Markdown body MkDocs renders begins

    def body(self) -> Iterator[tuple[int, str, Embed | None, tuple[Placeholder, ...]]]:
        """Each line of the body MkDocs renders: its file line number, its text, the embed it
        is (if any) and the placeholders it shows, left to right."""
        embeds = {embed.line: embed for embed in self.embeds}
        shown: dict[int, list[Placeholder]] = {}
        for placeholder in self.placeholders:
            shown.setdefault(placeholder.line, []).append(placeholder)
        lines = self.text.splitlines()[self.body_start - 1 :]
        for number, line in enumerate(lines, self.body_start):
            yield number, line, embeds.get(number), tuple(shown.get(number, ()))


def front_matter(text: str, post: Path) -> tuple[dict, int]:
    """The post's YAML front matter and the number of lines it takes (0 without one)."""
    meta, end, _ = _front_matter(text, post)
    return meta, end


def front_matter_nodes(
    text: str, post: Path
) -> tuple[dict, dict[str, tuple[yaml.Node, yaml.Node]]]:
    """The post's YAML front matter, and each top-level key's (key node, value node), whose
    marks give lines: YAML line n is the post's line n + 2."""
    meta, _, nodes = _front_matter(text, post)
    return meta, nodes


def _front_matter(
    text: str, post: Path
) -> tuple[dict, int, dict[str, tuple[yaml.Node, yaml.Node]]]:
    """front_matter, plus each key's nodes (YAML line n is file line n + 2)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, 0, {}
    end = next((n for n in range(1, len(lines)) if lines[n].strip() in ("---", "...")), None)
    if end is None:
        raise AuthoringError("front matter opened with '---' is never closed", Location(post, 1))
    try:
        meta, node = yaml_lines.load("\n".join(lines[1:end]))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        raise AuthoringError(f"malformed front matter: {error}", Location(post, line)) from None
    meta = {} if meta is None else meta
    if not isinstance(meta, dict):
        raise AuthoringError("front matter must be a YAML mapping", Location(post, 2))
    return meta, end + 1, yaml_lines.key_nodes(node)


def read_post(post: Path) -> str:
    """The post's text; AuthoringError naming the file, and the line and byte of the first one
    that is not UTF-8, when it cannot be read (one broken post must not stop the others)."""
    try:
        content = post.read_bytes()
    except IsADirectoryError:
        raise AuthoringError(
            "a post must be a file, and this is a folder", Location(post)
        ) from None
    except OSError as error:
        raise AuthoringError(f"cannot read the post: {error.strerror}", Location(post)) from None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        column = error.start - (content.rfind(b"\n", 0, error.start) + 1)
        raise AuthoringError(
            f"the post is not UTF-8 text: byte 0x{content[error.start]:02x} at byte offset "
            f"{error.start} (column {column + 1}) cannot be decoded; save the file as UTF-8",
            Location(post, line),
        ) from None


def read_document(post: Path, snippets_dir: Path, text: str | None = None) -> PostDocument:
    """Read a post once and parse it: front matter, body start, embeds and placeholders (its
    whole file is scanned, so line numbers match the file)."""
    text = read_post(post) if text is None else text
    meta, end, nodes = _front_matter(text, post)  # validate early: MkDocs ignores broken ones
    timeout = None
    if "snippet_timeout" in meta:
        line = nodes["snippet_timeout"][0].start_mark.line + 2
        timeout = yaml_lines.check_timeout(
            meta["snippet_timeout"],
            "front matter 'snippet_timeout' (seconds)",
            Location(post, line),
        )
    embeds: list[Embed] = []
    placeholders: list[Placeholder] = []
    body_start = _body_start(text.splitlines(), end)
    body = "\n".join(text.splitlines()[body_start - 1 :])  # what MkDocs renders, and only that
    for number, line in prose_lines(body):
        number += body_start - 1
        match = EMBED.match(line.strip())
        if match:
            embeds.append(_embed(match, post, number, snippets_dir))
            continue
        placeholders.extend(
            Placeholder.from_match(post, number, m) for m in placeholder_matches(line)
        )
    return PostDocument(
        post,
        tuple(embeds),
        tuple(placeholders),
        timeout,
        text=text,
        meta=meta,
        nodes=nodes,
        front_matter_lines=end,
        body_start=body_start,
    )


def snippet_timeouts(documents: Iterable[PostDocument]) -> dict[Path, float]:
    """Snippet -> the longest `snippet_timeout:` of the posts that embed it."""
    limits: dict[Path, float] = {}
    for document in documents:
        for embed in document.embeds if document.timeout else ():
            limits[embed.snippet] = max(document.timeout, limits.get(embed.snippet, 0.0))
    return limits


def _body_start(lines: list[str], skip: int) -> int:
    """The line after the front matter and the blank lines the blog plugin strips."""
    while skip < len(lines) and not lines[skip]:
        skip += 1
    return skip + 1


def snippet_for_placeholder(name: str, snippets_dir: Path, location: Location) -> Path:
    """The snippet file (symlinks resolved) that placeholder `{{ name.value }}` reads."""
    target = _snippet_file(
        snippets_dir / f"{name}.py", snippets_dir, f"snippet {name!r} of the placeholder", location
    )
    if target.stem != name:  # results are found by the file's own name, not a link's
        raise AuthoringError(
            f"snippet {name!r} of the placeholder links to {target.name}; name that file instead",
            location,
        )
    return target


def embed_target(post: Path, target: str) -> Path:
    """The file an embed's link names, relative to its post: percent-escapes decoded as a
    browser or GitHub decodes them (`my%20run.py` is `my run.py`), symlinks not yet resolved."""
    return post.parent / urllib.parse.unquote(target)


def _embed(match: re.Match[str], post: Path, line: int, snippets_dir: Path) -> Embed:
    location = Location(post, line)
    shown = f"snippet {match['target']!r}"
    target = _snippet_file(embed_target(post, match["target"]), snippets_dir, shown, location)
    cell = match["cell"]
    if cell == "":
        raise AuthoringError("empty cell name after '#'", location)
    return Embed(post=post, line=line, snippet=target, cell=cell, target=match["target"])


def _snippet_file(path: Path, snippets_dir: Path, shown: str, location: Location) -> Path:
    """`path` with symlinks resolved, if that is a file in the snippets folder; else an error.

    Resolving before the test refuses `..` and links (snippets/x.py -> /etc/passwd) alike.
    """
    target = path.resolve()
    if not target.is_relative_to(snippets_dir.resolve()):
        raise AuthoringError(
            f"{shown} is not in the snippets folder {snippets_dir} (it is {target})", location
        )
    if not target.is_file():
        raise AuthoringError(f"{shown} does not exist (looked for {target})", location)
    return target
