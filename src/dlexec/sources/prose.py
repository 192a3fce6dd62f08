"""Which lines and spans of a post are prose the engine reads (embeds, placeholders), and which
Markdown hides from it: fenced and indented code, inline code, HTML comments."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Literal

FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


# Lines whose indented continuation is their content (Python-Markdown: 4 columns further in).
LIST_ITEM = re.compile(r"(?:[*+-]|\d+\.) +\S")  # Python-Markdown has no "1)" items


ADMONITION = re.compile(  # as the admonition and pymdownx.details extensions parse them
    r'!!! ?[\w-]+(?: +[\w-]+)*(?: +".*")? *$|\?\?\?\+? ?(?:[\w-]+(?: +[\w-]+)*(?: +".*")?|".*") *$'
)


HEADING = re.compile(r"#{1,6}(?:[ \t]|$)")


INLINE = re.compile(r"\\.|<!--|`+")  # an escaped character, a comment's start, a backtick run


Span = tuple[int, int]


Comment = Literal["block", "inline"] | None  # the kind of HTML comment open across lines


class ProseLine(str):
    """A line of prose that knows its spans Markdown hides from the engine (comments, code).

    A str, so callers that only read text need not care; placeholder_matches uses the spans,
    which it could not find from the line alone when a comment opened lines before.
    """

    hidden: tuple[Span, ...]

    def __new__(cls, text: str, hidden: tuple[Span, ...] = ()) -> ProseLine:
        line = super().__new__(cls, text)
        line.hidden = hidden
        return line


def prose_lines(text: str) -> Iterator[tuple[int, ProseLine]]:
    """(line number, line) for lines shown as prose: outside fenced and indented code blocks,
    and not wholly inside an HTML comment."""
    lines = text.splitlines()
    blocks = _Blocks()
    comment: Comment = None
    for number, line in enumerate(lines, 1):
        if not (comment or blocks.prose(line, islice(lines, number, None))):
            continue
        started_in = comment
        closes = partial(_closes_later, lines, number)
        comments, code, comment = _inline_spans(line, comment, closes)
        if comments and not _outside(line, comments).strip():
            kind = started_in or _kind(line, len(line) - len(line.lstrip()))
            blocks.blank |= kind == "block"  # a comment block ends a paragraph like a blank line
            continue
        if started_in:
            blocks.blank = False  # the text after the comment is a paragraph
        yield number, ProseLine(line, tuple(sorted(comments + code)))


def placeholder_matches(line: str) -> list[re.Match[str]]:
    """The placeholders of a prose line that Markdown shows: none in code spans or comments.

    For a line from prose_lines the hidden spans are known; for any other string they are
    found on the line alone.
    """
    if isinstance(line, ProseLine):
        hidden = line.hidden
    else:
        comments, code, _ = _inline_spans(line, None, lambda block: False)
        hidden = tuple(sorted(comments + code))
    matches: list[re.Match[str]] = []
    position = 0
    for start, end in (*hidden, (len(line), len(line))):
        matches += PLACEHOLDER.finditer(line, position, start)
        position = end
    return matches


@dataclass
class _Blocks:
    """Where a line-by-line walk is in the block structure of a post (comments aside)."""

    fence: str | None = None  # the open fence's marker, e.g. "````"
    code: int | None = None  # indent that the open indented code block is relative to
    # Content indent of each open list item (True: lazy lines continue it) or admonition.
    containers: list[tuple[int, bool]] = field(default_factory=list)
    blank: bool = True  # the previous line was blank (or there was none)

    def prose(self, line: str, following: Iterable[str]) -> bool:
        """Step over `line` (`following` are the lines after it); whether it is outside fenced
        and indented code."""
        if self.fence is not None:
            self.fence = None if _closes(line, self.fence) else self.fence
            self.blank = False
            return False
        if not line.strip():
            self.blank = True
            return True
        indent = len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())
        if self.code is not None and indent >= self.code + 4:
            return False
        self.code = None
        text = line.lstrip()
        fence = FENCE.match(line)
        fence = fence if fence and any(_closes(later, fence[1]) for later in following) else None
        item, admonition = LIST_ITEM.match(text), ADMONITION.match(text)
        heading = HEADING.match(text)
        nested = bool(self.containers)
        self._leave(indent, bool(self.blank or item or admonition or fence))
        base = self.containers[-1][0] if self.containers else 0
        after_blank, self.blank = self.blank, bool(heading)  # a heading is a block of its own
        if after_blank and indent >= base + 4:  # Python-Markdown: code needs a blank line before
            self.code = base
            return False
        if fence:  # superfences: an unclosed fence is text
            self.fence = fence[1][0] * len(fence[1])
            return False
        if admonition or (item and (after_blank or nested)):  # a list cannot interrupt a paragraph
            self.containers.append((indent + 4, bool(item)))
        return True

    def _leave(self, indent: int, starts_block: bool) -> None:
        """Close the containers a line indented `indent` is outside of: an admonition at once,
        a list item only when the line starts a block (else it is a lazy continuation)."""
        for depth, (content, lazy) in enumerate(self.containers):
            if indent < content and (starts_block or not lazy):
                del self.containers[depth:]
                return


def _closes(line: str, fence: str) -> bool:
    """Whether `line` closes a block opened by `fence`: the same character, at least as many."""
    marker = line.strip()
    return len(marker) >= len(fence) and marker == fence[0] * len(marker)


def _inline_spans(
    line: str, comment: Comment, closes_later: Callable[[bool], bool]
) -> tuple[list[Span], list[Span], Comment]:
    """HTML comment spans and code spans of `line`, and the comment still open at its end.

    Left to right as in CommonMark: whichever starts first wins, so `<!--` between backticks is
    code and backticks in a comment are comment. A code span closes at the next backtick run of
    the same length; an unmatched run is text, and so is a `<!--` that never closes.
    """
    comments: list[Span] = []
    code: list[Span] = []
    opened = 0 if comment else None  # where the open comment began on this line
    position = 0
    while True:
        if opened is not None:
            end = line.find("-->", position)
            if end < 0:
                comments.append((opened, len(line)))
                return comments, code, comment
            comments.append((opened, end + 3))
            position, opened, comment = end + 3, None, None
        match = INLINE.search(line, position)
        if match is None:
            return comments, code, None
        position = match.end()
        if match[0] == "<!--":
            kind = _kind(line, match.start())
            if "-->" in line[position:] or closes_later(kind == "block"):
                opened, comment = match.start(), kind
        elif match[0][0] == "`":
            close = re.compile(f"(?<!`){match[0]}(?!`)").search(line, position)
            if close:
                code.append((match.start(), close.end()))
                position = close.end()


def _kind(line: str, start: int) -> Comment:
    """The kind of a comment opening at `start`: a block when it starts the line, indented less
    than 4 (Python-Markdown's raw HTML blocks); else inline, part of a paragraph."""
    before = line[:start]
    return "block" if not before.strip() and len(before.expandtabs(4)) < 4 else "inline"


def _closes_later(lines: list[str], after: int, block: bool) -> bool:
    """Whether a comment left open on line `after` closes. Only a comment block may run over
    blank lines; one in a paragraph may not (and unclosed, its `<!--` is text)."""
    for line in islice(lines, after, None):
        if "-->" in line:
            return True
        if not block and not line.strip():
            return False
    return False


def _outside(line: str, spans: list[Span]) -> str:
    """The text of `line` outside `spans` (sorted, not overlapping)."""
    parts, position = [], 0
    for start, end in spans:
        parts.append(line[position:start])
        position = end
    return "".join(parts) + line[position:]


# {{ snippet.value }}, {{ snippet.value:.1% }}, {{ snippet.value:.1% | ci }}, and a difference
# of two values run with the same seeds: {{ snippet.value - other.value:.1% | ci }}
PLACEHOLDER = re.compile(
    r"\{\{\s*(?P<snippet>[A-Za-z_][\w-]*)\.(?P<value>[A-Za-z_]\w*)"
    r"(?:\s*-\s*(?P<minus_snippet>[A-Za-z_][\w-]*)\.(?P<minus_value>[A-Za-z_]\w*))?"
    r"\s*(?::(?P<spec>[^}|]*?))?\s*(?:\|\s*(?P<filter>[A-Za-z_]\w*)\s*)?\}\}"
)
