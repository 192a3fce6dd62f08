"""Progress of a build in the terminal: which post and snippet runs, and the current epoch."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from .errors import Location

EPOCH = re.compile(r"Epoch (\d+)/(\d+)")


class Progress(Protocol):
    """What the engine reports while it prepares snippets."""

    def start(self, total: int) -> None: ...
    def snippet(self, relative: Path, referrer: Location) -> None: ...
    def output(self, text: str) -> None: ...
    def advance(self) -> None: ...
    def close(self) -> None: ...


class Silent:
    """No progress display (tests, library use)."""

    def start(self, total: int) -> None:
        pass

    def snippet(self, relative: Path, referrer: Location) -> None:
        pass

    def output(self, text: str) -> None:
        pass

    def advance(self) -> None:
        pass

    def close(self) -> None:
        pass


class Bar(Silent):
    """A tqdm bar over the build's snippets, showing the running snippet, its post and the
    Keras epoch it is in. Off when stderr is not a terminal (CI logs get plain log lines)."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bar: tqdm | None = None

    def start(self, total: int) -> None:
        if self.enabled and total:
            self.bar = tqdm(total=total, unit="snippet", desc="snippets", leave=False)

    def snippet(self, relative: Path, referrer: Location) -> None:
        if self.bar is not None:
            self.bar.set_description(f"{relative} (for {referrer.path.name})")
            self.bar.set_postfix_str("")

    def output(self, text: str) -> None:
        found = EPOCH.findall(text)
        if self.bar is not None and found:
            current, total = found[-1]
            self.bar.set_postfix_str(f"epoch {current}/{total}")

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
