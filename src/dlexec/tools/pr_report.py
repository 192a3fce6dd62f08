"""`make pr-report REF=...`: the report a reviewer acts on, in Markdown. The pull-request
workflow appends it to the job summary ($GITHUB_STEP_SUMMARY); locally it prints.

Sections:

- Snippets executed: a build keeps no timing file (it only logs them), so this reads the
  provenance of each result that changed since REF: how long that run took, where and when. The
  run was made wherever the result was made (usually the contributor's machine); a pull
  request's build re-executes only what is stale.
- Results changed: `dlexec diff REF` (values before → after, orphan results folders).
- Claims: every claim of every post with its value on each recorded backend and seed
  (`dlexec check`).
- Sandbox: whether bubblewrap can sandbox snippet kernels here, and what BLOG_SANDBOX and CI make
  the engine do about it.
- Site: the workflow run's `site` artifact (GitHub Actions), else the local site/ folder.

A REF that does not exist (origin/main in a clone that never fetched it) is said so at the top,
and HEAD~1 is compared with instead. Every section is written even when another one fails.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..checks.claims import OUT_OF_SCOPE, ClaimReport, _shown, claim_reports
from ..config import EngineConfig
from ..errors import EngineError
from ..git import git
from ..numbers import is_number
from ..run import sandbox
from ..sources.expectations import scope_text
from .outputs_diff import report, results_at, results_now

FALLBACK_REF = "HEAD~1"
SITE_ARTIFACT = "site"  # the name pull-request.yml uploads the built site under
# GitHub refuses a step summary over 1 MiB (and then shows none): stay well below it.
MAX_BYTES = 900_000


def resolve_ref(root: Path, ref: str) -> tuple[str | None, str | None]:
    """The ref to compare with, and a note when it is not `ref`: `ref` itself when it names a
    commit here, else HEAD~1 (None when neither exists)."""
    if _commit(root, ref):
        return ref, None
    missing = f"`{ref}` does not exist in this repository"
    if ref != FALLBACK_REF and _commit(root, FALLBACK_REF):
        return FALLBACK_REF, f"{missing} (fetch it, or pass REF=...): compared with `HEAD~1`"
    return None, f"{missing}, nor does `HEAD~1`: nothing to compare with"


def render(
    config: EngineConfig,
    ref: str = "origin/main",
    environ: Mapping[str, str] | None = None,
) -> str:
    """The whole report, Markdown."""
    environ = os.environ if environ is None else environ
    used, note = resolve_ref(config.root, ref)
    lines = ["# Pull-request report", ""]
    if note:
        lines += [f"**Note:** {note}.", ""]
    if used is not None:
        lines.append(f"Compared with `{used}` ({_short(config.root, used)}).")
    sections: list[tuple[str, Callable[[], list[str]]]] = [
        ("Snippets executed", lambda: executed_section(config, used)),
        ("Results changed", lambda: changed_section(config, used)),
        ("Claims", lambda: claims_section(config)),
        ("Sandbox", lambda: sandbox_section(environ)),
        ("Site", lambda: site_section(config, environ)),
    ]
    for title, make in sections:
        try:
            body = make()
        except (EngineError, OSError, ValueError) as error:
            body = [f"Could not make this section: {_inline(str(error))}"]
        lines += ["", f"## {title}", "", *body]
    return _capped("\n".join(lines) + "\n")


def executed_section(config: EngineConfig, ref: str | None) -> list[str]:
    """The results that changed since `ref`, each with its run's time, place and date."""
    if ref is None:
        return ["No base to compare with: which results changed is unknown."]
    before = results_at(config.root, config.results_dir, ref)
    after = results_now(config.results_dir)
    changed = [(name, doc) for name, doc in after.items() if before.get(name) != doc]
    lines = [
        "From the provenance of each result that changed since "
        f"`{ref}` (a build writes no timing file): how long its run took, where and when. "
        "A committed result ran before the pull request, usually on the contributor's "
        "machine; one that this job's build had to execute (it was stale) shows this job's run.",
        "",
    ]
    if not changed:
        return [*lines, "No result changed: no snippet was executed for this change."]

    def seconds(item: tuple[str, dict[str, Any]]) -> float:
        value = _provenance(item[1]).get("wall_time_s")
        return float(value) if is_number(value) else -1.0

    changed.sort(key=seconds, reverse=True)  # slowest first, as a build logs them
    lines += [
        "| Snippet | Wall time | Peak memory | Device | Executor | Run on |",
        "|---|--:|--:|---|---|---|",
    ]
    total = 0.0
    for name, document in changed:
        provenance = _provenance(document)
        wall = provenance.get("wall_time_s")
        total += float(wall) if is_number(wall) else 0.0
        memory = provenance.get("peak_memory_mib")
        cells = [
            f"`{document.get('snippet') or name}`",
            f"{wall:.1f} s" if is_number(wall) else "—",
            f"{memory} MiB" if is_number(memory) else "—",
            str(provenance.get("device") or "—"),
            str(provenance.get("executor") or "—"),
            str(provenance.get("date") or "—"),
        ]
        lines.append(_row(cells))
    them = "result" if len(changed) == 1 else "results"
    lines += ["", f"{len(changed)} {them} changed; their runs took {total:.1f} s in all."]
    return lines


def changed_section(config: EngineConfig, ref: str | None) -> list[str]:
    """`dlexec diff REF`, as it prints it."""
    if ref is None:
        return ["No base to compare with."]
    text = report(config.root, config.results_dir, config.snippets_dir, ref)
    return [f"`dlexec diff {ref}`: values before → after.", "", *_fenced(text)]


def claims_section(config: EngineConfig) -> list[str]:
    """Every claim with its measured value on each run it covers (`dlexec check`)."""
    from ..store.records import MatrixSettings

    posts = sorted(config.posts_dir.glob("*.md"))
    reports = claim_reports(
        posts, config.results_dir, MatrixSettings(config.backends, config.seeds)
    )
    failed = sum(report.failed for report in reports)
    lines = [
        f"{len(reports)} claims checked in {len(posts)} posts: {len(reports) - failed} hold, "
        f"{failed} failed.",
    ]
    if not reports:
        return lines
    lines += ["", "| Post | Claim | Status | Values |", "|---|---|---|---|"]
    lines += [claim_row(report, config.root) for report in reports]
    failing = [report for report in reports if report.failed]
    if failing:  # folded: one line per run that is wrong makes a long list
        them = "the failing claim" if len(failing) == 1 else f"the {len(failing)} failing claims"
        lines += ["", f"<details><summary>What is wrong with {them}</summary>", ""]
        lines += _fenced([line for report in failing for line in report.lines(config.root)])
        lines += ["", "</details>"]
    return lines


def claim_row(report: ClaimReport, root: Path) -> str:
    claim = report.expectation
    post = claim.post.resolve()
    shown_post = post.relative_to(root.resolve()) if post.is_relative_to(root.resolve()) else post
    text = f"`{claim.text}`"
    if claim.scope.narrowed:
        text += f" (claimed {scope_text(claim)}: {claim.scope.reason})"
    measured = [m for m in report.measurements if m.verdict != OUT_OF_SCOPE]
    values = " · ".join(f"{m.variant.describe()} {_shown(m)}" for m in measured)
    status = "❌ fails" if report.failed else "✅ holds"
    return _row([f"`{shown_post.as_posix()}:{claim.line}`", text, status, values])


def sandbox_section(environ: Mapping[str, str]) -> list[str]:
    """Whether bubblewrap works here, and what the engine does about it (BLOG_SANDBOX, CI)."""
    problem = sandbox.probe()
    bwrap = sandbox.shutil.which("bwrap")
    tool = f"bubblewrap (`{bwrap}`)" if bwrap else "bubblewrap (`bwrap`): not installed"
    available = "yes" if problem is None else f"no: {_inline(problem)}"
    wanted = environ.get("BLOG_SANDBOX", "auto").strip().lower() or "auto"
    ci = environ.get("CI", "").lower() in ("true", "1")
    try:
        chosen = sandbox.choose(environ, log=lambda message: None)
    except sandbox.SandboxUnavailable:
        outcome = "the engine refuses to execute snippets here (a sandbox is required)"
    except EngineError as error:
        outcome = _inline(str(error))
    else:
        outcome = (
            "snippet kernels run sandboxed (no network, read-only system, one writable folder)"
            if chosen is not None
            else "snippet kernels run UNSANDBOXED, with the build's access"
        )
    return [
        f"- Tool: {tool}",
        f"- Available: {available}",
        f"- BLOG_SANDBOX={wanted}{', CI=true' if ci else ''}: {outcome}",
    ]


def site_section(config: EngineConfig, environ: Mapping[str, str]) -> list[str]:
    """The workflow run's artifact on GitHub Actions, else the local site/ folder."""
    server, repo, run = (
        environ.get(name, "").strip()
        for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if server and repo and run:
        run_url = f"{server.rstrip('/')}/{repo}/actions/runs/{run}"
        lines = []
        artifact = environ.get("SITE_ARTIFACT_URL", "").strip()
        if artifact:
            lines.append(f"- Built site: [download the `{SITE_ARTIFACT}` artifact]({artifact})")
        lines.append(f"- This run's artifacts: [{run_url}#artifacts]({run_url}#artifacts)")
        if not artifact:
            lines.append(
                f"- No `{SITE_ARTIFACT}` artifact link: the build or its upload did not finish."
            )
        return lines
    site = config.root / "site"
    if (site / "index.html").is_file():
        built = time.strftime(
            "%Y-%m-%d %H:%M", time.localtime((site / "index.html").stat().st_mtime)
        )
        return [f"- Built site: `{site}/` (local, built {built} by `make site`)"]
    return [f"- No built site at `{site}`: `make site` builds it."]


def _commit(root: Path, ref: str) -> bool:
    try:
        git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except EngineError:
        return False
    return True


def _short(root: Path, ref: str) -> str:
    try:
        return git(root, "log", "-1", "--format=%h %s", ref).strip()
    except EngineError:
        return "?"


def _provenance(document: dict[str, Any]) -> dict[str, Any]:
    provenance = document.get("provenance")
    return provenance if isinstance(provenance, dict) else {}


def _inline(text: str) -> str:
    return " ".join(text.split())


def _row(cells: list[str]) -> str:
    """A Markdown table row: pipes escaped (also inside code spans, as GitHub wants)."""
    return "| " + " | ".join(_inline(cell).replace("|", "\\|") for cell in cells) + " |"


def _fenced(lines: list[str]) -> list[str]:
    """`lines` in a code block whose fence is longer than any backtick run inside."""
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", *lines, fence]


def _capped(text: str) -> str:
    data = text.encode()
    if len(data) <= MAX_BYTES:
        return text
    cut = data[:MAX_BYTES].decode(errors="ignore").rsplit("\n", 1)[0]
    return f"{cut}\n\n**Cut at {MAX_BYTES:,} bytes** (a job summary holds at most 1 MiB).\n"
