"""Progress of a build in the terminal: how many snippets are done, and one line per running
snippet with its Keras epoch."""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .errors import Location

if TYPE_CHECKING:
    from tqdm import tqdm

EPOCH = re.compile(r"Epoch (\d+)/(\d+)")


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
    """A tqdm bar over the build's snippets, and under it one line per running snippet: its
    name, the post that uses it and the Keras epoch it is in. Off when stderr is not a terminal
    (CI logs get the engine's plain log lines). While the bars show, what `loggers` log is
    printed above them (through the bars it would break their lines)."""

    def __init__(self, enabled: bool | None = None, loggers: Sequence[logging.Logger] = ()) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.loggers = list(loggers)
        self.bar: tqdm | None = None
        self._lines: dict[Path, SnippetLine] = {}
        self._lock = threading.Lock()  # watchers report from the executor's threads
        self._redirect = contextlib.ExitStack()

    def start(self, total: int) -> None:
        if self.enabled and total:
            # Imported here: a build that shows no bar (not on a terminal) needs no tqdm.
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._redirect.enter_context(logging_redirect_tqdm(self.loggers))
            self.bar = tqdm(total=total, unit="snippet", desc="snippets", leave=False)

    @staticmethod
    def write(message: str) -> None:
        """Print a log line above the bars (printing past them would break their lines)."""
        from tqdm import tqdm

        tqdm.write(message, file=sys.stderr)

    def watch(self, relative: Path, referrer: Location) -> Watcher:
        if self.bar is None:
            return Quiet()
        line = SnippetLine(self, f"{relative.name} (for {referrer.path.name})")
        self._lines[relative] = line
        return line

    def finished(self, relative: Path) -> None:
        line = self._lines.pop(relative, None)
        if line is not None:
            line.close()

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        for line in list(self._lines.values()):
            line.close()
        self._lines.clear()
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self._redirect.close()

    def free_position(self) -> int:
        """The first terminal line under the bar that no running snippet uses."""
        used = {line.position for line in self._lines.values() if line.bar is not None}
        return next(number for number in range(1, len(used) + 2) if number not in used)


class SnippetLine:
    """One running snippet's line: shown from the moment it holds its resources."""

    def __init__(self, owner: Bar, label: str) -> None:
        self.owner = owner
        self.label = label
        self.bar: tqdm | None = None
        self.position = 0

    def running(self) -> None:
        from tqdm import tqdm

        with self.owner._lock:
            self.position = self.owner.free_position()
            self.bar = tqdm(
                desc=self.label,
                position=self.position,
                leave=False,
                bar_format="  {desc}{postfix}",
            )

    def output(self, text: str) -> None:
        found = EPOCH.findall(text)
        if self.bar is not None and found:
            current, total = found[-1]
            with self.owner._lock:
                self.bar.set_postfix_str(f"epoch {current}/{total}")

    def close(self) -> None:
        with self.owner._lock:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
