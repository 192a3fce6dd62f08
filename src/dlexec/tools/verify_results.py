"""`make verify-results REF=...`: re-execute every snippet whose committed result changed since a
git ref and hold the committed result against the fresh one.

A checksum only proves that `result.json` was written by something that knows the checksum
function, which any pull request does. Re-running is the only proof that a result came from its
snippet. The comparison (pure functions, first half of this module) covers everything that
reaches a page or a notebook: values, printed text, histories, errors, the figures (decoded and
compared pixel by pixel within `MAX_FIGURE_RMS`) and training curves (redrawn from the history
and compared byte for byte), and the snippet itself (its path and the digest of its source in
the cache key). It ignores what cannot be reproduced: provenance, wall-clock timings in Keras
logs, machine-specific paths, and numbers within a tolerance (rounding on another CPU).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath

from ..build.engine import Engine
from ..build.report import BuildReport
from ..capture.plots import curve_files
from ..config import EngineConfig, Mode
from ..errors import AuthoringError, EngineError, Location
from ..git import git
from ..sources.posts import read_document, snippet_for_placeholder, snippet_timeouts
from ..sources.snippets import Snippet, load_snippet
from ..store.compare import compare_results, figure_problems, tolerance_for
from ..store.keys import key_inputs
from ..store.results import RESULT_FILE, CorruptResult, Result, load_result

# --- values -----------------------------------------------------------------------------------


# --- text -------------------------------------------------------------------------------------


# --- histories, errors, cells -----------------------------------------------------------------


def summary_line(executed: int, differing: int) -> str:
    snippets = "snippet" if executed == 1 else "snippets"
    verb = "differs" if differing == 1 else "differ"
    return f"verify-results: {executed} {snippets} re-executed, {differing} {verb}"


# --- the command: git, the engine, temporary folders ------------------------------------------


@dataclass
class Verdict:
    """What verifying one committed result found; no `problems` means it was reproduced."""

    folder: str
    executed: bool = False
    problems: list[str] = field(default_factory=list)


def changed_results(root: Path, results_dir: Path, ref: str) -> list[str]:
    """Result folders (relative to `results_dir`) with a file that differs between `ref` and the
    working tree, or is new; a folder whose result was removed has nothing left to verify."""
    relative = PurePosixPath(results_dir.relative_to(root).as_posix())
    tracked = git(
        root, "diff", "--relative", "--name-only", "--no-renames", "-z", ref, "--", str(relative)
    )
    untracked = git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", str(relative))
    folders = {
        PurePosixPath(path).parent.relative_to(relative).as_posix()
        for path in (tracked + untracked).split("\0")
        if path and PurePosixPath(path).parent != relative
    }
    return sorted(name for name in folders if (results_dir / name / RESULT_FILE).exists())


def verify_results(config: EngineConfig, ref: str, log: Callable[[str], None] | None = None) -> int:
    """Re-execute every result changed since `ref` into a temporary folder (the committed files
    are never touched) and compare. Problems go to `log` (stderr), the summary line to stdout;
    1 when any result is not reproduced."""
    log = log or (lambda message: print(message, file=sys.stderr))
    names = changed_results(config.root, config.results_dir, ref)
    with tempfile.TemporaryDirectory(prefix="dlexec-verify-") as temporary:
        scratch = replace(
            config,
            results_dir=Path(temporary) / "results",
            local_results=Path(temporary) / "cache",  # never reuse an earlier run's copy
            mode=Mode.ALWAYS,
        )
        engine = Engine(scratch, log=log)
        engine.post_timeouts = post_timeouts(config)  # the limits a build would allow
        try:
            verdicts = [verify_one(config, engine, name) for name in names]
        finally:
            engine.close()
    for verdict in verdicts:
        if verdict.problems:
            log(f"error: results/{verdict.folder} is not what its snippet produces:")
            log("\n".join(f"    {problem}" for problem in verdict.problems))
    differing = sum(bool(verdict.problems) for verdict in verdicts)
    print(summary_line(sum(verdict.executed for verdict in verdicts), differing))
    return 1 if differing else 0


def verify_one(config: EngineConfig, engine: Engine, name: str) -> Verdict:
    """Check that the committed result in `name` belongs to its snippet, then re-run and compare."""
    verdict = Verdict(name)
    path = config.snippets_dir / f"{name}.py"
    try:
        committed = load_result(config.results_dir / name)
        # Contained like every reference: a snippet symlinked out of snippets/ is refused.
        path = snippet_for_placeholder(name, config.snippets_dir, Location(config.relative(path)))
        snippet = load_snippet(path)
        tolerance = tolerance_for(snippet.header.tolerance)
    except (CorruptResult, EngineError, ValueError) as error:
        verdict.problems.append(f"cannot verify: {error}")
        return verdict
    verdict.problems += ownership_problems(config, snippet, committed)
    if verdict.problems:
        return verdict  # not this snippet's result, whatever a re-run would print
    verdict.problems += curve_problems(config.results_dir / name, committed)
    report = BuildReport()
    run = engine.ensure(snippet, Location(config.relative(path)), report)
    if run is None or run.result is None or run.status != "executed":
        verdict.problems += [f"re-run failed: {text}" for text in report.error_texts()]
        return verdict
    verdict.executed = True
    verdict.problems += compare_results(committed, run.result, tolerance)
    if not verdict.problems:  # same outputs in the same places: now their figures
        verdict.problems += figure_problems(
            config.results_dir / name, committed, run.folder, run.result
        )
    return verdict


def ownership_problems(
    config: EngineConfig, snippet: Snippet, committed: Result | None
) -> list[str]:
    """The committed result must carry the cache key (and key inputs) computed for the snippet
    now: a result copied from another snippet, or from an older version of it, is not its."""
    if committed is None:
        return ["no committed result"]
    try:
        inputs = key_inputs(
            snippet, config.keras_home, config.data_mirror, committed.inputs.get("data")
        )
    except EngineError as error:
        return [f"cannot compute the cache key: {error}"]
    relative = config.relative(snippet.path).as_posix()
    problems = []
    if committed.key != inputs.key or committed.inputs != asdict(inputs):
        problems.append(
            f"cache key: committed {committed.key[:12]} vs {inputs.key[:12]} computed for "
            f"{relative} now (the result does not belong to the snippet as it is)"
        )
    if committed.snippet != relative:
        problems.append(f"snippet: committed {committed.snippet!r} vs {relative!r}")
    return problems


def curve_problems(folder: Path, committed: Result | None) -> list[str]:
    """Training curves are drawn from the history, so they can be checked byte for byte: a
    swapped curve file is caught, although the pixels of a snippet's own figures are not."""
    problems = []
    for history in committed.histories() if committed else []:
        if not history.epochs:
            continue  # the engine draws no curves for an empty history
        for key, (name, content) in curve_files(history).items():
            file = folder / name
            if history.plots.get(key) != name or not file.is_file() or file.read_bytes() != content:
                problems.append(
                    f"training curves of model {history.model!r} ({name}): not the drawing "
                    "of the committed history"
                )
    return problems


def post_timeouts(config: EngineConfig) -> dict[Path, float]:
    """Snippet -> the longest `snippet_timeout:` of the posts embedding it, as a build allows."""
    documents = []
    for post in sorted(config.posts_dir.glob("*.md")):
        try:
            documents.append(read_document(post, config.snippets_dir))
        except AuthoringError:
            continue  # the build and `make check` report broken posts
    return snippet_timeouts(documents)
