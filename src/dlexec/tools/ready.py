"""`make ready REF=...`: what a pull request is checked for, run here in the same order, each
item even after one failed, then one line per item: PASS, or FAIL and what to do.

1. Snippet format and lint at 88 columns (`ruff format --check` and `ruff check`, both with
   `--line-length 88`), on the snippets changed since REF (from where the branch left REF) and
   the untracked ones: the contributor's own (`make test` holds every snippet to the same).
2. Fresh results and notebooks: what a `BLOG_EXECUTE=never` build checks, without rendering the
   site: every snippet a post uses has a committed result made from its current source, data
   and versions, and every committed post notebook (notebooks/) is what a build makes from
   them. `--build` runs the real `BLOG_EXECUTE=never mkdocs build --strict` instead (into a
   temporary folder; slower, and it also fails on any build warning).
3. Claims: `python -m dlexec check`.
4. The fast tier of the tests, chosen by marker (`pytest --tier fast`, as `make test` runs it:
   no test marked kernel, build, browser, ray or slow, but the smoke set). `make test-all` runs
   every tier, as CI does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..config import EngineConfig, Mode
from ..errors import AuthoringError, EngineError
from ..git import git
from .pr_report import resolve_ref

LINE_LENGTH = 88
# The fast tier, on every core: tests/conftest.py defines the tier by the tests' markers.
FAST_TIER = ("--tier", "fast", "-n", "auto")


@dataclass(frozen=True)
class Context:
    config: EngineConfig
    ref: str
    build: bool = False  # item 2 as a real BLOG_EXECUTE=never build


@dataclass(frozen=True)
class Finding:
    """What one item found: passed or not, and a short account (one line)."""

    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Item:
    title: str
    check: Callable[[Context], Finding]
    fix: str  # what to do when it fails


def items() -> list[Item]:
    """The items in the order a pull request meets them (looked up now: tests replace them)."""
    return [
        Item(
            f"snippet format and lint ({LINE_LENGTH} columns, changed snippets)",
            check_snippets,
            f"run `ruff format --line-length {LINE_LENGTH}` on the snippets named above and fix "
            f"what `ruff check --line-length {LINE_LENGTH}` reports, then `make site` (a changed "
            "snippet runs again) and commit results/ and notebooks/",
        ),
        Item(
            "fresh results and notebooks",
            check_fresh,
            "run `make site` (it executes the stale snippets and rewrites the notebooks), then "
            "commit results/ and notebooks/",
        ),
        Item(
            "claims",
            check_claims,
            "make each failing claim hold: fix the snippet or the post's `expect:`; "
            "'not recorded' means `make verify` has to run (commit its matrix.json)",
        ),
        Item(
            "fast tests",
            check_tests,
            "fix the failures above (rerun one file: `.venv/bin/python -m pytest tests/FILE`); "
            "`make test-all` runs every tier, as CI does",
        ),
    ]


def ready(config: EngineConfig, ref: str = "origin/main", build: bool = False) -> int:
    """Run every item, then print the summary; 1 when any item failed."""
    context = Context(config, ref, build)
    found = []
    every = items()
    for number, item in enumerate(every, 1):
        _say(f"\n== {number}/{len(every)} {item.title}")
        try:
            outcome = item.check(context)
        except (EngineError, OSError) as error:
            outcome = Finding(False, f"could not run: {' '.join(str(error).split())}")
        found.append((item, outcome))
    lines = summary_lines(found)
    _say("\n" + "\n".join(lines))
    return 0 if all(outcome.ok for _, outcome in found) else 1


def summary_lines(found: list[tuple[Item, Finding]]) -> list[str]:
    """One line per item, in order: PASS or FAIL, what was found, and for a FAIL what to do."""
    failed = sum(not outcome.ok for _, outcome in found)
    head = (
        "ready: every item passes"
        if not failed
        else f"ready: {failed} of {len(found)} items fail (details above)"
    )
    lines = [head]
    for item, outcome in found:
        detail = f" ({outcome.detail})" if outcome.detail else ""
        todo = "" if outcome.ok else f": {item.fix}"
        lines.append(f"{'PASS' if outcome.ok else 'FAIL'}  {item.title}{detail}{todo}")
    return lines


# -- 1. snippet format and lint --------------------------------------------------------------


def changed_snippets(config: EngineConfig, ref: str) -> tuple[list[Path], str]:
    """The snippets (*.py under snippets/) changed since `ref` (committed or not, counted from
    the commit where HEAD left `ref`) plus the untracked ones; and which base that was."""
    root = config.root
    folder = config.snippets_dir.relative_to(root).as_posix()
    used, note = resolve_ref(root, ref)
    if note:
        _say(f"note: {note.replace('`', '')}")
    base = used and (_git(root, "merge-base", used, "HEAD") or used)
    since = f"since {used}" if used else f"in the working tree ({ref} not found)"
    changed = _git(
        root, "diff", "--name-only", "--relative", "--diff-filter=d", base or "HEAD", "--", folder
    )
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "--", folder)
    names = dict.fromkeys((changed or "").splitlines() + (untracked or "").splitlines())
    paths = [root / name for name in names if name.endswith(".py") and (root / name).is_file()]
    return sorted(paths), since


def check_snippets(context: Context) -> Finding:
    config = context.config
    paths, since = changed_snippets(config, context.ref)
    if not paths:
        return Finding(True, f"no snippet changed {since}")
    names = [path.relative_to(config.root).as_posix() for path in paths]
    _say(f"checking the snippets changed {since} and untracked ones (make test checks all):")
    _say("  " + " ".join(names))
    width = ["--line-length", str(LINE_LENGTH)]
    ruff = [sys.executable, "-m", "ruff"]
    formatted, _ = _run([*ruff, "format", "--check", *width, *names], config.root)
    linted, _ = _run([*ruff, "check", *width, *names], config.root)
    problems = [name for name, ok in (("format", formatted), ("lint", linted)) if not ok]
    them = f"{_count(len(names), 'snippet')} changed {since}"
    return Finding(not problems, f"{them}{': ' + ' and '.join(problems) if problems else ''}")


# -- 2. fresh results and notebooks ----------------------------------------------------------


def check_fresh(context: Context) -> Finding:
    if context.build:
        return _never_build(context.config)
    from ..build.engine import Engine
    from ..present.notebooks import stale_post_notebooks

    config = replace(context.config, mode=Mode.NEVER)
    posts = sorted(config.posts_dir.glob("*.md"))
    report = Engine(config, log=_say).prepare(posts)
    stale = stale_post_notebooks(report, config.root, config.notebooks_dir)
    errors = [*report.errors, *stale]
    for text in [f"{e}\n{getattr(e, 'traceback', '')}".rstrip() for e in errors]:
        _say(f"error: {text}")
    if not errors:
        return Finding(True, f"{_count(len(report.runs), 'result')} and post notebooks fresh")
    found = f"{_count(len(report.errors), 'problem')} with results"
    return Finding(False, f"{found}, {_count(len(stale), 'stale notebook')}")


def _never_build(config: EngineConfig) -> Finding:
    env = {**os.environ, "BLOG_EXECUTE": "never", "NO_MKDOCS_2_WARNING": "1"}
    with tempfile.TemporaryDirectory(prefix="ready-site-") as site:
        command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", site]
        ok, _ = _run(command, config.root, env)
    return Finding(ok, "BLOG_EXECUTE=never mkdocs build --strict")


# -- 3. claims, 4. fast tests ----------------------------------------------------------------


def check_claims(context: Context) -> Finding:
    root = context.config.root
    ok, last = _run([sys.executable, "-m", "dlexec", "--root", str(root), "check"], root)
    return Finding(ok, last if last.startswith("claims:") else "python -m dlexec check")


def check_tests(context: Context) -> Finding:
    root = context.config.root
    ok, last = _run([sys.executable, "-m", "pytest", "-q", *FAST_TIER], root)
    return Finding(ok, f"the fast tier: {last.strip('= ')}")


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[bool, str]:
    """Run `command`, its output (stderr too) shown as it comes; whether it succeeded, and its
    last line (the summary `dlexec check` and pytest end with)."""
    sys.stdout.flush()
    last = ""
    with subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            last = line.strip() or last
    sys.stdout.flush()
    return process.returncode == 0, last


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _git(root: Path, *args: str) -> str | None:
    """git's output, or None where it failed (no such ref, not a repository)."""
    try:
        return git(root, *args).strip()
    except AuthoringError:
        return None


def _say(message: str) -> None:
    print(message, flush=True)
