"""The engine's error types. Every message names the file (and line) that caused it."""

from __future__ import annotations

import re
import reprlib
from dataclasses import dataclass
from pathlib import Path

# C0 controls but tab and newline, DEL, and the C1 controls (U+0080-U+009F; U+009B is a CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# An error quotes what it refuses; a YAML alias bomb or a megabyte of text must not become a
# megabyte-long line. Messages are cut here, and values quoted through `quoted`.
MAX_MESSAGE = 4000
_QUOTE = reprlib.Repr()  # Python 3.11's takes no settings: set them one by one
_QUOTE.maxlevel = 3
_QUOTE.maxtuple = _QUOTE.maxlist = _QUOTE.maxdict = _QUOTE.maxset = 6
_QUOTE.maxstring = _QUOTE.maxother = 120


def quoted(value: object) -> str:
    """`repr(value)`, shortened without building the whole of a huge or deeply nested value."""
    return _QUOTE.repr(value)


def _capped(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    return f"{message[:MAX_MESSAGE]}... ({len(message) - MAX_MESSAGE:,} more characters cut)"


def visible(text: str) -> str:
    """`text` with every control character but newline and tab shown as `cat -v` shows it (ESC
    as `^[`, BEL as `^G`, DEL as `^?`, C1 as `M-^[`...): nothing a snippet prints, raises or
    names can clear, retitle or hyperlink the terminal a build reports to."""
    return _CONTROL.sub(_caret, text)


def _caret(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x7F:
        return "^?"
    return f"^{chr(code + 64)}" if code < 0x80 else f"M-^{chr(code - 0x80 + 64)}"


@dataclass(frozen=True)
class Location:
    """A place in a source file, printed as `path:line`."""

    path: Path
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def within(self, root: Path | None) -> Location:
        """The same place with its path relative to `root` when inside it (a page is
        published: an absolute path would name the build machine's folders)."""
        if root is None or not self.path.is_relative_to(root):
            return self
        return Location(self.path.relative_to(root), self.line)


class EngineError(Exception):
    """Base class: a problem the author must fix, with where it is."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        message = _capped(message)
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        """Location and message, with control characters made visible (a message often quotes
        a snippet's exception or output)."""
        return self.shown()

    def shown(self, root: Path | None = None) -> str:
        """Location (relative to `root` when inside it) and message, control characters
        made visible."""
        where = self.location.within(root) if self.location else None
        return visible(f"{where}: {self.message}" if where else self.message)

    def __reduce__(self) -> tuple:
        """Pickle with every attribute (a Ray worker sends errors back to the build)."""
        return _restore, (type(self), dict(self.__dict__))


def _restore(cls: type[EngineError], state: dict) -> EngineError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class AuthoringError(EngineError):
    """Bad input written by an author: a missing snippet or cell, a bad header or placeholder."""


class DataMissingError(EngineError):
    """A data file a snippet declares is neither in the project cache nor in the mirror."""


class StaleResultError(EngineError):
    """BLOG_EXECUTE=never and a snippet's committed result is missing, stale or corrupted."""


class SnippetFailedError(EngineError):
    """A snippet raised, timed out or killed its kernel. `kind` says which (`error`: the
    snippet's code raised, the only failure that the same inputs repeat for certain)."""

    def __init__(
        self, message: str, location: Location | None, traceback: str = "", kind: str = "error"
    ) -> None:
        super().__init__(message, location)
        self.traceback = traceback
        self.kind = kind


class StaleNotebookError(StaleResultError):
    """BLOG_EXECUTE=never and a post's committed notebook (`notebook`) no longer holds what the
    post and its results make: not a snippet's error, reported apart from them."""

    def __init__(self, message: str, location: Location | None, notebook: Path) -> None:
        super().__init__(message, location)
        self.notebook = notebook
