"""Freshness and storage: whether a snippet's stored result can be reused (per BLOG_EXECUTE and
its cache key), where results live, and storing a run's outcome (with a copy in the local
cache, so that a reverted edit reuses the earlier run)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import EngineConfig, Mode
from ..errors import Location, StaleResultError
from ..numbers import is_number
from ..sources.snippets import Snippet
from ..store.keys import KeyInputs, key_inputs
from ..store.results import CorruptResult, Result, copy_result, load_result, save_result
from .report import SnippetRun

if TYPE_CHECKING:
    from ..run.base import Outcome


@dataclass(frozen=True)
class Pending:
    """A snippet that must run: where it is used first, its key inputs, its result folder, and
    how long its last run took (None: never ran)."""

    snippet: Snippet
    referrer: Location
    inputs: KeyInputs
    folder: Path
    last_seconds: float | None = None


class Freshness:
    """Reuse or run, for one project's results; stores what runs give."""

    def __init__(self, config: EngineConfig, log: Callable[[str], None]) -> None:
        self.config = config
        self.log = log
        self.checked = config.root / ".cache" / "checked-files"  # contents found sound

    def result_folder(self, snippet: Snippet) -> Path:
        return self.folder_of(snippet.path)

    def folder_of(self, snippet_path: Path) -> Path:
        """`results/<snippet path inside snippets/, without .py>/`."""
        return self.config.results_dir / snippet_path.relative_to(
            self.config.snippets_dir.resolve()
        ).with_suffix("")

    def decide(self, snippet: Snippet, referrer: Location) -> SnippetRun | Pending:
        """Reuse the stored result (a SnippetRun) or say the snippet must run (Pending);
        StaleResultError when BLOG_EXECUTE=never and there is no fresh result."""
        folder = self.result_folder(snippet)
        stored, problem = self.stored(folder, self.config.relative(snippet.path).as_posix())
        recorded = stored.inputs.get("data") if stored else None
        inputs = key_inputs(snippet, self.config.keras_home, self.config.data_mirror, recorded)
        fresh = stored is not None and stored.key == inputs.key
        mode = self.config.mode
        if mode is Mode.NEVER and not fresh:
            reason = problem or (
                "is missing" if stored is None else "is stale (its cache key changed)"
            )
            raise StaleResultError(
                f"the committed result {reason}; BLOG_EXECUTE=never runs nothing: "
                "build once with BLOG_EXECUTE=auto and commit results/",
                Location(self.config.relative(snippet.path)),
            )
        if (fresh and mode is Mode.AUTO) or mode is Mode.NEVER:
            return SnippetRun(snippet, "reused", folder, result=stored)
        if stored is not None:
            self.remember(folder, stored.key)
        if mode is Mode.AUTO:
            restored = copy_result(self.config.local_results / inputs.key, folder, self.checked)
            if restored is not None:  # e.g. a reverted edit: this exact key ran before
                return SnippetRun(snippet, "reused", folder, result=restored)
        last = stored.provenance.get("wall_time_s") if stored is not None else None
        return Pending(snippet, referrer, inputs, folder, last if is_number(last) else None)

    def reusable(self, item: Pending) -> SnippetRun | None:
        """A run another build stored meanwhile for `item`'s exact key (BLOG_EXECUTE=auto)."""
        stored, _ = self.stored(item.folder, self.config.relative(item.snippet.path).as_posix())
        if stored is not None and stored.key == item.inputs.key and self.config.mode is Mode.AUTO:
            return SnippetRun(item.snippet, "reused", item.folder, result=stored)
        return None

    def remember(self, folder: Path, key: str) -> None:
        """Keep a copy of a result in the local (git-ignored) cache, indexed by its key."""
        if not (self.config.local_results / key / "result.json").exists():
            copy_result(folder, self.config.local_results / key, self.checked)

    def stored(self, folder: Path, snippet: str) -> tuple[Result | None, str | None]:
        """The stored result if it is sound and names `snippet`, else (None, why not)."""
        try:
            stored = load_result(folder, self.checked)
            if stored is not None and stored.snippet != snippet:
                raise CorruptResult(f"{folder}: names snippet {stored.snippet!r}, not {snippet!r}")
            return stored, None
        except CorruptResult as error:
            self.log(f"result is corrupted, treating it as stale: {error}")
            return None, f"is corrupted ({error})"

    def store(self, item: Pending, outcome: Outcome) -> SnippetRun:
        """The run an outcome makes: a failure stores nothing; a success is saved atomically."""
        if outcome.error is not None:
            return SnippetRun(
                item.snippet, "failed", item.folder, outcome.result, outcome.error, outcome.seconds
            )
        result = save_result(item.folder, outcome.result, dict(outcome.files))
        self.remember(item.folder, result.key)
        return SnippetRun(item.snippet, "executed", item.folder, result, seconds=outcome.seconds)
