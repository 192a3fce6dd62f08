"""Command line of the engine (`python -m dlexec ...`).

- `run snippets/x.py`: execute now (whatever BLOG_EXECUTE says), store, print the outputs, and
  name the committed post notebooks (notebooks/) the new results left stale.
- `prepare [--shard I/N]`: what a site build does: execute or reuse what the posts need, per
  BLOG_EXECUTE; with --shard, only this machine's share of the stale snippets (CI matrices).
- `check`: hold every post's claims against the committed results, on every backend and seed
  that `verify` recorded.
- `verify [--backends tensorflow,jax,torch] [--seeds K] [--recheck REF]`: bring results up to
  date, then run every snippet on the other backends and claimed ones with K further seeds
  (what changed only); store each run beside its result (`matrix.json`) and check the claims.
  With --recheck, every record changed since REF is re-run and compared, not trusted.
- `diff REF`: which snippets' results changed since a git ref, why, and how; and results
  folders whose snippet no longer exists.
- `verify-results REF`: re-execute the snippets whose results changed since REF; fail if any
  committed result is not what its snippet produces.
- `new-post "Title"`: scaffold a dated post and a starter snippet.
- `pr-report [REF]`: the pull-request report (Markdown) CI writes to its job summary.
- `ready [REF] [--build]`: what a pull request is checked for, in order; one line per item.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..build.engine import Engine
from ..build.report import BuildReport, SnippetRun
from ..build.shards import Shard
from ..config import EngineConfig, Mode
from ..errors import EngineError, Location, visible
from ..progress import Bar
from ..sources.snippets import load_snippet
from ..store.curves import CARD
from ..store.outputs import ErrorOutput, HistoryOutput, ImageOutput, TextOutput
from .outputs_diff import report as diff_report
from .scaffold import new_post
from .verify_results import verify_results


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = EngineConfig.load(args.root)
        if args.command == "run":
            return _run(replace(config, mode=Mode.ALWAYS), args.snippets)
        if args.command == "check":
            return _check(config)
        if args.command == "verify":
            return _verify(config, args.backends, args.seeds, args.recheck)
        if args.command == "diff":
            lines = diff_report(config.root, config.results_dir, config.snippets_dir, args.ref)
            print("\n".join(lines))
            return 0
        if args.command == "verify-results":
            return verify_results(config, args.ref)
        if args.command == "new-post":
            post, snippet = new_post(config, args.title)
            print(f"created {config.relative(post)} and {config.relative(snippet)}")
            return 0
        if args.command == "pr-report":
            from .pr_report import render

            print(render(config, args.ref), end="")
            return 0
        if args.command == "ready":
            from .ready import ready as run_ready

            return run_ready(config, args.ref, args.build)
        return _prepare(config, args.shard)
    except EngineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupt:
        # Ctrl-C (or SIGTERM, raised as one while snippets run): stores are atomic, so what
        # finished is kept and what ran is not half-written; a traceback would only alarm.
        signum = signal.SIGTERM if "SIGTERM" in str(interrupt) else signal.SIGINT
        print(
            "interrupted: results stored before the signal are kept; "
            "the runs it stopped were not stored",
            file=sys.stderr,
        )
        return 128 + signum


def _parser() -> argparse.ArgumentParser:
    """The command line: global options, then one subcommand."""
    parser = argparse.ArgumentParser(prog="dlexec", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=Path.cwd(), help="project folder (with pyproject.toml)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="execute snippets now, store their results and print their outputs",
        description="Execute snippets now (whatever BLOG_EXECUTE says), store their results "
        "in results/ and print their outputs. The posts' notebooks (notebooks/) are written "
        "by a build: when the new results leave one stale, the last line names it.",
    )
    run.add_argument("snippets", type=Path, nargs="+", help="snippet files, e.g. snippets/x.py")
    prepare = commands.add_parser(
        "prepare", help="execute or reuse what the posts need (BLOG_EXECUTE)"
    )
    prepare.add_argument(
        "--shard", type=Shard.parse, help="I/N: execute only share I of N of the stale snippets"
    )
    commands.add_parser("check", help="check the posts' claims on every recorded backend and seed")
    matrix = commands.add_parser(
        "verify", help="run snippets on every backend and with more seeds, then check claims"
    )
    matrix.add_argument(
        "--backends",
        type=_backend_list,
        help="comma-separated, e.g. tensorflow,jax (default: pyproject)",
    )
    matrix.add_argument(
        "--seeds", type=int, help="further seeds per claimed snippet (default: pyproject)"
    )
    matrix.add_argument(
        "--recheck",
        metavar="REF",
        help="re-run every matrix record changed since REF and compare it with the committed one",
    )
    diff = commands.add_parser("diff", help="results changed since a git ref")
    diff.add_argument("ref", nargs="?", default="origin/main")
    verify = commands.add_parser(
        "verify-results", help="re-execute results changed since a git ref and compare"
    )
    verify.add_argument("ref", nargs="?", default="origin/main")
    _add_tool_commands(commands)
    return parser


def _add_tool_commands(commands: Any) -> None:
    """The commands around a build: scaffold a post, the PR report, `make ready`."""
    new = commands.add_parser(
        "new-post",
        help="scaffold a post and a starter snippet",
        description="Write posts/<slug>.md (dated front matter with a placeholder "
        "description and claims, an introduction, the <!-- more --> marker, an embedded "
        "snippet and placeholders) and snippets/<name>.py (a starter that trains a tiny "
        "model), where <slug> is made from the title and <name> is the slug with _ for -; "
        "refuse to overwrite either.",
    )
    new.add_argument("title", help='the post\'s title, e.g. "Regularization in practice"')
    pr_report = commands.add_parser(
        "pr-report",
        help="the pull-request report (Markdown): runs, results changed, claims, sandbox, site",
        description="Print, as Markdown, what a reviewer needs: the snippets whose results "
        "changed since REF with how long their runs took, the values that changed, every claim "
        "with its measured values, the sandbox status and where the built site is. A REF that "
        "does not exist is said so, and HEAD~1 is compared with instead.",
    )
    pr_report.add_argument("ref", nargs="?", default="origin/main")
    ready = commands.add_parser(
        "ready",
        help="run what a pull request is checked for, in order, and say what to do",
        description="Snippet format and lint at 88 columns (snippets changed since REF), fresh "
        "results and notebooks, claims, the fast tests: each runs even after one failed, then "
        "one line per item, PASS or FAIL with what to do.",
    )
    ready.add_argument("ref", nargs="?", default="origin/main")
    ready.add_argument(
        "--build",
        action="store_true",
        help="check freshness with a real BLOG_EXECUTE=never mkdocs build --strict (slower)",
    )


def _run(config: EngineConfig, paths: list[Path]) -> int:
    engine = Engine(config, log=lambda message: print(message, file=sys.stderr))
    report = BuildReport()
    started = time.monotonic()
    try:
        for path in paths:
            snippet = load_snippet(path.resolve())
            run = engine.ensure(snippet, Location(path), report)
            if run is not None:
                report.runs[snippet.path] = run
                print(_as_text(run))
    finally:
        engine.close()
    report.seconds = time.monotonic() - started
    _print_errors(report)
    print(report.summary_line())
    executed = [run.snippet.path for run in report.runs.values() if run.status == "executed"]
    try:
        line = stale_notebooks_line(config, notebooks_left_stale(config, executed))
    except (EngineError, OSError) as error:  # the results are stored: say so, do not fail
        line = f"could not check the post notebooks (notebooks/): {error}"
    if line:
        print(line)
    return 1 if report.errors else 0


def notebooks_left_stale(config: EngineConfig, snippets: list[Path]) -> list[Path]:
    """The committed notebooks (notebooks/<post>.ipynb) of the posts that use `snippets` and
    that no longer hold what a build makes from the stored results: the check a
    BLOG_EXECUTE=never build makes (`sync_post_notebooks`), without writing any notebook (only,
    as a build does, a stamp in .cache/notebook-stamps for a notebook found to match).

    A post that cannot be checked (broken front matter, or another of its snippets without a
    fresh result, which `make site` must run first) is left out: its build reports it."""
    from ..present.notebooks import stale_post_notebooks as never_build_check
    from ..sources.posts import read_document

    paths = {path.resolve() for path in snippets}
    names = {path.stem for path in paths}
    posts = []
    for post in sorted(config.posts_dir.glob("*.md")) if paths else []:
        try:
            references = read_document(post, config.snippets_dir)
        except EngineError:
            continue
        if any(embed.snippet in paths for embed in references.embeds) or any(
            name in names
            for placeholder in references.placeholders
            for name in placeholder.snippets
        ):
            posts.append(post)
    if not posts:
        return []
    report = Engine(replace(config, mode=Mode.NEVER), log=lambda message: None).prepare(posts)
    stale = never_build_check(report, config.root, config.notebooks_dir)
    return [
        config.notebooks_dir / f"{error.location.path.stem}.ipynb"
        for error in stale
        if error.location
    ]


def stale_notebooks_line(config: EngineConfig, notebooks: list[Path]) -> str | None:
    """The line `run` prints when its results left post notebooks stale (None when none)."""
    if not notebooks:
        return None
    shown = ", ".join(
        f"{config.relative(path)}{'' if path.is_file() else ' (missing)'}" for path in notebooks
    )
    them = "it" if len(notebooks) == 1 else "them"
    return (
        f"post notebooks now stale: {shown}; `make site` rewrites {them} from the stored "
        "results (commit notebooks/ with results/)"
    )


def _prepare(config: EngineConfig, shard: Shard | None) -> int:
    bar = Bar()
    engine = Engine(config, log=bar.write, progress=bar)
    report = engine.prepare(sorted(config.posts_dir.glob("*.md")), shard)
    _print_errors(report)
    print(report.summary_line())
    return 1 if report.errors else 0


def _backend_list(text: str) -> tuple[str, ...]:
    from ..backends import BACKENDS

    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in BACKENDS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(BACKENDS)}")
    return names


def _check(config: EngineConfig) -> int:
    """Print every claim with its value on each recorded run; fail if any does not hold."""
    from ..checks.claims import claim_reports
    from ..store.records import MatrixSettings

    settings = MatrixSettings(config.backends, config.seeds)
    posts = sorted(config.posts_dir.glob("*.md"))
    reports = claim_reports(posts, config.results_dir, settings)
    for report in reports:
        lines = report.lines(config.root)
        print("\n".join(lines), file=sys.stderr if report.failed else sys.stdout)
    failed = sum(report.failed for report in reports)
    print(
        f"claims: {len(reports)} checked in {len(posts)} posts: "
        f"{len(reports) - failed} hold, {failed} failed"
    )
    return 1 if failed else 0


def _verify(
    config: EngineConfig,
    backends: tuple[str, ...] | None,
    seeds: int | None,
    recheck: str | None = None,
) -> int:
    """Results, then the backend and seed matrix (`recheck`: re-run the records changed since
    that ref and compare), then the claims."""
    from ..backends import MAIN_BACKEND
    from ..build.matrix import changed_records, verify_matrix
    from ..store.records import MatrixSettings

    backends = tuple(dict.fromkeys((MAIN_BACKEND, *(backends or config.backends))))
    settings = MatrixSettings(backends, config.seeds if seeds is None else seeds)
    bar = Bar()
    engine = Engine(config, log=bar.write, progress=bar)
    records = changed_records(config, recheck) if recheck else frozenset()
    posts = sorted(config.posts_dir.glob("*.md"))
    report, matrix = verify_matrix(engine, posts, settings, records)
    _print_errors(report)
    for failure in matrix.failures:
        print(f"error: {failure}", file=sys.stderr)
    print(report.summary_line())
    print(matrix.summary_line())
    checked = _check(replace(config, backends=backends, seeds=settings.seeds))
    return 1 if report.errors or matrix.failures or checked else 0


def _print_errors(report: BuildReport) -> None:
    for text in report.error_texts():
        print(f"error: {text}", file=sys.stderr)


def _as_text(run: SnippetRun) -> str:
    """A terminal rendering of one run: each cell's outputs, then the provenance."""
    lines = [f"== {run.snippet.path.name}: {run.status}"]
    for cell in run.result.cells if run.result else []:
        lines.append(f"-- cell {cell.name or cell.index}")
        for output in cell.outputs:
            if isinstance(output, TextOutput):
                lines.append(output.text.rstrip("\n"))
            elif isinstance(output, ImageOutput):
                lines.append(f"[figure {run.folder / output.file}]")
            elif isinstance(output, HistoryOutput):
                lines.append(f"[training curves of {output.model}: {output.plots.get(CARD, '')}]")
            elif isinstance(output, ErrorOutput):
                lines.append(output.traceback)
    if run.result:
        lines.append(f"-- provenance: {run.result.provenance}")
    return visible("\n".join(lines))  # a stored result may carry any character
