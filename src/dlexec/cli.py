"""Command line: `python -m dlexec run snippets/x.py`, `python -m dlexec prepare`.

`run` executes the given snippets now (whatever BLOG_EXECUTE says), stores their results and
prints their outputs as text. `prepare` does what a site build does: find every snippet the
posts reference, execute or reuse according to BLOG_EXECUTE, print the summary line.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from .capture import ErrorOutput, HistoryOutput, ImageOutput, TextOutput
from .config import EngineConfig, Mode
from .errors import EngineError, Location
from .pipeline import BuildReport, Engine, SnippetRun
from .snippets import load_snippet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dlexec", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=Path.cwd(), help="project folder (with pyproject.toml)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute snippets now and print their outputs")
    run.add_argument("snippets", type=Path, nargs="+")
    commands.add_parser("prepare", help="execute or reuse what the posts need (BLOG_EXECUTE)")
    args = parser.parse_args(argv)
    try:
        config = EngineConfig.load(args.root)
        if args.command == "run":
            return _run(replace(config, mode=Mode.ALWAYS), args.snippets)
        return _prepare(config)
    except EngineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _run(config: EngineConfig, paths: list[Path]) -> int:
    engine = Engine(config, log=lambda message: print(message, file=sys.stderr))
    report = BuildReport()
    started = time.monotonic()
    for path in paths:
        snippet = load_snippet(path.resolve())
        run = engine.ensure(snippet, Location(path), report)
        if run is not None:
            report.runs[snippet.path] = run
            print(_as_text(run))
    report.seconds = time.monotonic() - started
    _print_errors(report)
    print(report.summary_line())
    return 1 if report.errors else 0


def _prepare(config: EngineConfig) -> int:
    engine = Engine(config, log=lambda message: print(message, file=sys.stderr))
    report = engine.prepare(sorted(config.posts_dir.glob("*.md")))
    _print_errors(report)
    print(report.summary_line())
    return 1 if report.errors else 0


def _print_errors(report: BuildReport) -> None:
    for error in report.errors:
        print(f"error: {error}\n{getattr(error, 'traceback', '')}".rstrip(), file=sys.stderr)


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
                lines.append(
                    f"[training curves of {output.model}: {output.plots.get('light', '')}]"
                )
            elif isinstance(output, ErrorOutput):
                lines.append(output.traceback)
    if run.result:
        lines.append(f"-- provenance: {run.result.provenance}")
    return "\n".join(lines)
