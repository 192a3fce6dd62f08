"""`dlexec pr-report REF` (`make pr-report`): the Markdown a reviewer reads in the pull request's
job summary, from a temporary git repository whose results changed since a tag: the runs behind
the changed results (their provenance), the outputs diff, every claim with its values, the
sandbox status and where the built site is; and the workflow step that writes it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import KEY_INPUTS as INPUTS
from conftest import REPO, git

from dlexec.config import EngineConfig
from dlexec.run import sandbox
from dlexec.store.results import Result, save_result
from dlexec.tools import pr_report
from dlexec.tools.cli import main
from dlexec.tools.outputs_diff import report as diff_report

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

# Claims on the main run only: no backend or seed matrix to record.
PYPROJECT = '[tool.dlexec]\nbackends = ["tensorflow"]\nseeds = 0\n'
POST = """---
date: 2026-01-01
expect:
  cnn.accuracy:
    - ">= 0.9"
    - "> 0.99"
---
# A post
"""
SECTIONS = ["Snippets executed", "Results changed", "Claims", "Sandbox", "Site"]


def write_result(root: Path, name: str, key: str, values: dict[str, Any], **provenance) -> None:
    result = Result(f"snippets/{name}.py", key, INPUTS, provenance, [], values)
    save_result(root / "results" / name, result, {})
    (root / "snippets").mkdir(exist_ok=True)
    (root / "snippets" / f"{name}.py").write_text(f"# %% {name}\nx = 1\n")


def run(seconds: float, date: str) -> dict[str, Any]:
    return {
        "wall_time_s": seconds,
        "date": date,
        "executor": "local",
        "device": "CPU (2 cores)",
        "peak_memory_mib": 700,
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Tag `base`: results `cnn` and `old`. Then committed: `cnn` re-executed with other
    values (30 s), a new result `rnn` (5 s); `old` untouched."""
    git(tmp_path, "init", "-q")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "p.md").write_text(POST)
    write_result(tmp_path, "cnn", "k1", {"accuracy": 0.91}, **run(12.0, "2026-01-01 10:00 UTC"))
    write_result(tmp_path, "old", "k9", {"loss": 0.5}, **run(99.0, "2025-12-01 10:00 UTC"))
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    git(tmp_path, "tag", "base")
    write_result(tmp_path, "cnn", "k2", {"accuracy": 0.95}, **run(30.0, "2026-01-02 09:00 UTC"))
    write_result(tmp_path, "rnn", "k3", {"mae": 1.5}, **run(5.0, "2026-01-02 09:05 UTC"))
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "change")
    return tmp_path


def section(markdown: str, title: str) -> str:
    """The body of `## title`, up to the next section."""
    body = markdown.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0].strip("\n")


def render(root: Path, ref: str = "base", **environ: str) -> str:
    return pr_report.render(EngineConfig.load(root, environ={}), ref, environ)


def test_the_sections_come_in_order_after_the_compared_ref(repo: Path) -> None:
    markdown = render(repo)
    assert markdown.startswith("# Pull-request report\n")
    assert re.search(r"Compared with `base` \([0-9a-f]{7,} base\)", markdown)
    headings = re.findall(r"^## (.+)$", markdown, re.M)
    assert headings == SECTIONS


def test_snippets_executed_come_from_the_changed_results_provenance_slowest_first(
    repo: Path,
) -> None:
    body = section(render(repo), "Snippets executed")
    assert "provenance" in body and "a build writes no timing file" in body
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    assert rows == [
        "| `snippets/cnn.py` | 30.0 s | 700 MiB | CPU (2 cores) | local | 2026-01-02 09:00 UTC |",
        "| `snippets/rnn.py` | 5.0 s | 700 MiB | CPU (2 cores) | local | 2026-01-02 09:05 UTC |",
    ]  # `old` did not change: not listed
    assert body.endswith("2 results changed; their runs took 35.0 s in all.")


def test_nothing_changed_means_nothing_executed(repo: Path) -> None:
    body = section(render(repo, "HEAD"), "Snippets executed")
    assert body.endswith("No result changed: no snippet was executed for this change.")


def test_results_changed_is_the_outputs_diff_verbatim(repo: Path) -> None:
    body = section(render(repo), "Results changed")
    expected = diff_report(repo, repo / "results", repo / "snippets", "base")
    assert "    accuracy: 0.91 → 0.95 (+0.04)" in expected
    assert body.splitlines()[2:] == ["```text", *expected, "```"]


def test_claims_are_a_table_with_status_and_values(repo: Path) -> None:
    body = section(render(repo), "Claims")
    lines = body.splitlines()
    assert lines[0] == "2 claims checked in 1 posts: 1 hold, 1 failed."
    assert "| Post | Claim | Status | Values |" in lines
    assert (
        "| `posts/p.md:5` | `cnn.accuracy >= 0.9` | ✅ holds | TensorFlow 0.95 (+0.05) |" in lines
    )
    assert (
        "| `posts/p.md:6` | `cnn.accuracy > 0.99` | ❌ fails | TensorFlow 0.95 (-0.04) ✗ |" in lines
    )
    # What is wrong is `dlexec check`'s text, folded under the table.
    assert "<details><summary>What is wrong with the failing claim</summary>" in lines
    assert "posts/p.md:6: cnn.accuracy > 0.99" in lines


def test_a_missing_ref_is_said_and_head_1_is_used(repo: Path) -> None:
    markdown = render(repo, "origin/main")
    assert "**Note:** `origin/main` does not exist in this repository" in markdown
    assert "compared with `HEAD~1`" in markdown
    assert "Compared with `HEAD~1`" in markdown
    assert "    accuracy: 0.91 → 0.95 (+0.04)" in section(markdown, "Results changed")


def test_with_no_commit_to_compare_with_the_other_sections_still_come(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    markdown = render(tmp_path, "origin/main")
    assert "`origin/main` does not exist in this repository, nor does `HEAD~1`" in markdown
    assert section(markdown, "Results changed") == "No base to compare with."
    assert re.findall(r"^## (.+)$", markdown, re.M) == SECTIONS


def test_sandbox_status_says_the_tool_and_what_the_engine_does(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: "/usr/bin/bwrap")
    monkeypatch.setattr(sandbox, "probe", lambda: None)
    body = section(render(repo), "Sandbox")
    assert "- Tool: bubblewrap (`/usr/bin/bwrap`)" in body
    assert "- Available: yes" in body
    assert "- BLOG_SANDBOX=auto: snippet kernels run sandboxed" in body

    monkeypatch.setattr(sandbox, "probe", lambda: "bubblewrap cannot start a sandbox here: x")
    body = section(render(repo, CI="true"), "Sandbox")
    assert "- Available: no: bubblewrap cannot start a sandbox here: x" in body
    assert "CI=true: the engine refuses to execute snippets here" in body
    body = section(render(repo, BLOG_SANDBOX="off"), "Sandbox")
    assert "BLOG_SANDBOX=off: snippet kernels run UNSANDBOXED" in body


def test_site_links_the_workflow_runs_artifact(repo: Path) -> None:
    github = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "o/blog",
        "GITHUB_RUN_ID": "42",
    }
    artifact = "https://github.com/o/blog/actions/runs/42/artifacts/7"
    body = section(render(repo, **github, SITE_ARTIFACT_URL=artifact), "Site")
    assert f"[download the `site` artifact]({artifact})" in body
    assert "(https://github.com/o/blog/actions/runs/42#artifacts)" in body
    body = section(render(repo, **github), "Site")  # the upload did not happen
    assert "No `site` artifact link" in body


def test_site_locally_is_the_site_folder(repo: Path) -> None:
    assert "No built site at" in section(render(repo), "Site")
    (repo / "site").mkdir()
    (repo / "site" / "index.html").write_text("<html></html>")
    assert f"- Built site: `{repo / 'site'}/` (local, built " in section(render(repo), "Site")


def test_code_blocks_outfence_backticks_in_values() -> None:
    assert pr_report._fenced(["a ``` b"]) == ["````text", "a ``` b", "````"]
    assert pr_report._fenced(["plain"])[0] == "```text"


def test_table_cells_escape_pipes() -> None:
    assert pr_report._row(["a|b", "c\nd"]) == "| a\\|b | c d |"


def test_a_report_too_large_for_a_job_summary_is_cut(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pr_report, "MAX_BYTES", 300)
    markdown = render(repo)
    assert len(markdown.encode()) < 450 and "**Cut at 300 bytes**" in markdown


def test_the_command_prints_the_report(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(repo), "pr-report", "base"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Pull-request report\n")
    assert re.findall(r"^## (.+)$", out, re.M) == SECTIONS


def test_make_pr_report_prints_only_the_report():
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^pr-report: .*\n\t(.+)$", makefile, re.M)
    assert recipe and recipe[1] == "@$(BIN)/python -m dlexec pr-report $(REF)"
    assert re.search(r"^# make pr-report REF=origin/main - ", makefile, re.M)


def test_the_pull_request_workflow_writes_the_report_to_its_job_summary_always():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "pull-request.yml").read_text())
    steps = workflow["jobs"]["test-and-build"]["steps"]
    summary = [step for step in steps if "GITHUB_STEP_SUMMARY" in step.get("run", "")]
    assert len(summary) == 1 and summary[0] is steps[-1]  # last: after the site's upload
    step = summary[0]
    assert step["if"] == "always()"  # also when the tests or the build failed
    assert step["run"] == 'make -s pr-report REF="origin/$BASE_REF" >> "$GITHUB_STEP_SUMMARY"'
    assert step["env"]["BASE_REF"] == "${{ github.base_ref }}"  # never spliced into the script
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["name"] == pr_report.SITE_ARTIFACT
    assert step["env"]["SITE_ARTIFACT_URL"] == (
        "${{ steps." + upload["id"] + ".outputs.artifact-url }}"
    )
