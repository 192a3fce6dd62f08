"""Progress of a build: how many snippets are done, and one line per running snippet with its
Keras epoch. On a terminal these are tqdm lines redrawn in place, each fitted to the terminal's
width; anywhere else (a pipe, a CI log) they are plain log lines, one per epoch at most every
few seconds."""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from time import monotonic
from typing import IO, TYPE_CHECKING, Any, Protocol

from .errors import Location, visible

if TYPE_CHECKING:
    from tqdm import tqdm

EPOCH = re.compile(r"Epoch (\d+)/(\d+)")
EPOCH_TAIL = 16  # characters of a run's output kept, so that "Epo" + "ch 3/10" still matches
PLAIN_INTERVAL = 10.0  # seconds: off a terminal, at most one epoch line per snippet this often
REDRAW_INTERVAL = 1.0  # seconds: on a terminal, a running snippet's clock ticks this often
INDENT = "  "  # a snippet's line, under the overall bar
GAP = "  "  # between a snippet's label and its epoch
ELLIPSIS = "…"
SHORTEST = 12  # a name elided to fewer columns says too little: drop it instead


class Watcher(Protocol):
    """Hears about one snippet while it runs."""

    def running(self) -> None: ...
    def output(self, text: str) -> None: ...


class Progress(Protocol):
    """What the engine reports while it prepares snippets."""

    def start(self, total: int) -> None: ...
    def watch(self, relative: Path, referrer: Location) -> Watcher: ...
    def finished(self, relative: Path) -> None: ...
    def advance(self) -> None: ...
    def close(self) -> None: ...


class Quiet:
    """A Watcher that shows nothing."""

    def running(self) -> None:
        pass

    def output(self, text: str) -> None:
        pass


class Silent:
    """No progress display (tests, library use)."""

    def start(self, total: int) -> None:
        pass

    def watch(self, relative: Path, referrer: Location) -> Watcher:
        return Quiet()

    def finished(self, relative: Path) -> None:
        pass

    def advance(self) -> None:
        pass

    def close(self) -> None:
        pass


class Bar(Silent):
    """On a terminal: a tqdm bar over the build's snippets, and under it one line per running
    snippet: its file name, the post that uses it (elided, then dropped, when the terminal is
    narrow), the Keras epoch it is in and how long it has run; the epoch always shows. While
    the bars show, what `loggers` log is printed above them (through the bars it would break
    their lines).

    Elsewhere (`file` is not a terminal: a pipe, a CI log) nothing is redrawn: each running
    snippet logs `snippets/x.py: Epoch 3/10 (45.2 s)` when a new epoch starts, at most once
    every `interval` seconds; the engine's own `executing ...` and `executed ... in 12.3 s`
    lines frame them. The epoch lines go to `log` if given, else to `file`.

    `file` is where everything goes (default: sys.stderr); `enabled` forces the bars on or
    off (default: on when `file` is a terminal)."""

    def __init__(
        self,
        enabled: bool | None = None,
        loggers: Sequence[logging.Logger] = (),
        *,
        file: IO[str] | None = None,
        log: Callable[[str], None] | None = None,
        interval: float = PLAIN_INTERVAL,
    ) -> None:
        self._file = file
        self.enabled = _is_terminal(self.file) if enabled is None else enabled
        self.loggers = list(loggers)
        self.interval = interval
        self._log = log
        self.bar: tqdm | None = None
        self._started = False
        self._lines: dict[Path, SnippetLine] = {}
        # Watchers report from the executor's threads; a line's close() runs under it too.
        self._lock = threading.RLock()
        self._redirect = contextlib.ExitStack()

    @property
    def file(self) -> IO[str]:
        """Where the bars and lines go (sys.stderr as it is now, unless one was given)."""
        return self._file if self._file is not None else sys.stderr

    def start(self, total: int) -> None:
        if not total:
            return
        self._started = True
        if self.enabled:
            # Imported here: a build that shows no bar (not on a terminal) needs no tqdm.
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._redirect.enter_context(logging_redirect_tqdm(self.loggers))
            self.bar = tqdm(
                total=total,
                unit="snippet",
                desc="snippets",
                leave=False,
                file=self.file,
                dynamic_ncols=True,  # follows the terminal when it is resized
            )

    def write(self, message: str) -> None:
        """Print a log line: above the bars while they show (printing past them would break
        their lines), else as a plain line. Control characters are shown, not sent."""
        message = visible(message)
        if self.bar is not None:
            from tqdm import tqdm

            tqdm.write(message, file=self.file)
        else:
            self._plain(message, self.file)

    def note(self, message: str) -> None:
        """A progress line off the terminal: to `log` if given, else to `file`."""
        if self._log is not None:
            self._log(message)
        else:
            self._plain(message, self.file)

    def _plain(self, message: str, file: IO[str]) -> None:
        with self._lock:  # one whole line at a time, whichever thread writes
            file.write(message + "\n")
            file.flush()

    def watch(self, relative: Path, referrer: Location) -> Watcher:
        if not self._started:
            return Quiet()  # only a build's runs, between start() and close(), are shown
        if self.bar is None:
            return PlainLine(self, relative)
        line = SnippetLine(self, visible(relative.name), visible(referrer.path.name))
        with self._lock:
            self._lines[relative] = line
        return line

    def finished(self, relative: Path) -> None:
        with self._lock:
            line = self._lines.pop(relative, None)
            if line is not None:
                line.close()

    def advance(self) -> None:
        if self.bar is not None:
            with self._lock:
                self.bar.update(1)

    def close(self) -> None:
        with self._lock:
            for line in list(self._lines.values()):
                line.close()
            self._lines.clear()
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            self._started = False
        self._redirect.close()

    def free_position(self) -> int:
        """The first terminal line under the bar that no running snippet uses."""
        with self._lock:
            used = {line.position for line in self._lines.values() if line.bar is not None}
        return next(number for number in range(1, len(used) + 2) if number not in used)


class EpochReader:
    """Finds the latest Keras `Epoch n/N` in a run's output, read piece by piece."""

    def __init__(self) -> None:
        self.epoch: tuple[str, str] | None = None
        self._tail = ""

    def read(self, text: str) -> bool:
        """Whether `text` starts a new epoch (then in `self.epoch`)."""
        seen = self._tail + text
        self._tail = seen[-EPOCH_TAIL:]
        found = EPOCH.findall(seen)
        if not found or found[-1] == self.epoch:
            return False
        self.epoch = found[-1]
        return True

    @property
    def epoch_text(self) -> str:
        return f"Epoch {self.epoch[0]}/{self.epoch[1]}" if self.epoch else ""


class SnippetLine(EpochReader):
    """One running snippet's line on the terminal: shown from the moment it holds its
    resources. Its text is fitted to the terminal's width at every redraw."""

    def __init__(self, owner: Bar, name: str, post: str) -> None:
        super().__init__()
        self.owner = owner
        self.name = name
        self.post = post
        self.bar: tqdm | None = None
        self.position = 0
        self._drawn = 0.0

    @property
    def label(self) -> str:
        return f"{self.name} (for {self.post})"

    def running(self) -> None:
        with self.owner._lock:
            self.position = self.owner.free_position()
            self.bar = _fitted_tqdm()(
                self,
                position=self.position,
                leave=False,
                file=self.owner.file,
                dynamic_ncols=True,  # tqdm asks the terminal its width at every redraw
                bar_format="{desc}",  # the whole line: see text()
            )
            self._drawn = monotonic()

    def output(self, text: str) -> None:
        new_epoch = self.read(text)
        if self.bar is None:
            return
        now = monotonic()
        if new_epoch or now - self._drawn >= REDRAW_INTERVAL:
            with self.owner._lock:
                if self.bar is not None:
                    self.bar.refresh()
                    self._drawn = now

    def close(self) -> None:
        with self.owner._lock:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    def text(self, columns: int | None, elapsed: float) -> str:
        """The line in at most `columns` columns (None: unknown, no limit), best first:
        name (for post)  Epoch 3/10 [01:23], with the post elided in the middle, then without
        the post, then without the clock, the name elided, and at last the epoch alone."""
        from tqdm.utils import disp_len

        clock = f"[{_clock(elapsed)}]"
        status = f"{self.epoch_text} {clock}" if self.epoch else clock
        bare = self.epoch_text  # what must show; before the first epoch, nothing must
        room = None if columns is None else columns - disp_len(INDENT + GAP)
        if room is None or disp_len(self.label) + disp_len(status) <= room:
            return f"{INDENT}{self.label}{GAP}{status}"
        for tail in (status, bare):
            space = room - disp_len(tail)
            post_space = space - disp_len(f"{self.name} (for )")
            if tail == status and post_space >= SHORTEST:
                return f"{INDENT}{self.name} (for {_elide(self.post, post_space)}){GAP}{tail}"
            if disp_len(self.name) <= space:
                return f"{INDENT}{self.name}{GAP}{tail}".rstrip()
        space = room - disp_len(bare)
        if space >= SHORTEST:
            return f"{INDENT}{_elide(self.name, space)}{GAP}{bare}".rstrip()
        return f"{INDENT}{bare}"  # tqdm trims what still does not fit


class PlainLine(EpochReader):
    """One running snippet off the terminal: a log line when an epoch starts, at most one
    every `owner.interval` seconds (the first always)."""

    def __init__(self, owner: Bar, relative: Path) -> None:
        super().__init__()
        self.owner = owner
        self.name = visible(relative.as_posix())
        self.started: float | None = None
        self._said: float | None = None

    def running(self) -> None:
        self.started = monotonic()  # the engine logs "executing ..." itself

    def output(self, text: str) -> None:
        if not self.read(text):
            return
        now = monotonic()
        if self._said is not None and now - self._said < self.owner.interval:
            return
        self._said = now
        seconds = now - (self.started if self.started is not None else now)
        self.owner.note(f"{self.name}: {self.epoch_text} ({seconds:.1f} s)")


def _elide(text: str, columns: int) -> str:
    """`text` in `columns` columns, its middle replaced by an ellipsis when too long (the
    start and the end of a name, with its extension, say the most)."""
    from tqdm.utils import disp_len, disp_trim  # counts wide characters as two columns

    if disp_len(text) <= columns:
        return text
    keep = max(columns - disp_len(ELLIPSIS), 0)
    end = keep // 2
    return disp_trim(text, keep - end) + ELLIPSIS + disp_trim(text[::-1], end)[::-1]


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def _is_terminal(file: IO[str]) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError):  # no isatty(), or a closed file
        return False


@functools.cache
def _fitted_tqdm() -> type[tqdm]:
    """A tqdm whose whole text is a SnippetLine's, fitted to the width tqdm finds at each
    redraw (made on first use: a build off the terminal imports no tqdm)."""
    from tqdm import tqdm

    class Fitted(tqdm):  # type: ignore[misc]  # tqdm ships no type hints
        def __init__(self, line: SnippetLine, **options: Any) -> None:
            self.line = line  # before tqdm's first redraw, which asks for format_dict
            super().__init__(**options)

        @property
        def format_dict(self) -> dict[str, Any]:
            values = super().format_dict
            values["prefix"] = self.line.text(values["ncols"], values["elapsed"])
            return values

    return Fitted
