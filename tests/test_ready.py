"""`dlexec ready REF` (`make ready`): every item runs in order, also after one failed, and the
last lines say PASS or FAIL per item with what to do; format and lint apply to the snippets
changed since REF (and untracked ones) only, from a temporary git repository."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, git

from dlexec.config import EngineConfig
from dlexec.errors import EngineError
from dlexec.tools import ready
from dlexec.tools.cli import main

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

TITLES = [
    "snippet format and lint (88 columns, changed snippets)",
    "fresh results and notebooks",
    "claims",
    "fast tests",
]
# The lint rules are the project's: E501 is what holds a line to 88 columns.
PYPROJECT = '[tool.dlexec]\n\n[tool.ruff.lint]\nselect = ["E"]\n'
LONG = "x = " + " + ".join(["1"] * 40) + "\n"  # 120 columns; the formatter wraps it


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """`main` (tag `base`, then one more commit) and the branch `topic`, which left it at
    `base`, with every kind of change under snippets/."""
    git(tmp_path, "init", "-q", "-b", "main")
    write(tmp_path, "pyproject.toml", PYPROJECT)
    write(tmp_path, ".gitignore", "snippets/ignored.py\n")
    for name in ("committed", "edited", "deleted", "old_long", "on_main"):
        write(tmp_path, f"snippets/{name}.py", "x = 1\n")
    write(tmp_path, "snippets/old_long.py", LONG)  # predates the rule: never checked
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    git(tmp_path, "tag", "base")
    git(tmp_path, "checkout", "-q", "-b", "topic")
    write(tmp_path, "snippets/committed.py", "x = 2\n")
    write(tmp_path, "snippets/sub/nested.py", "y = 1\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "topic")
    git(tmp_path, "checkout", "-q", "main")
    write(tmp_path, "snippets/on_main.py", "x = 3\n")  # main moved on: not the branch's change
    git(tmp_path, "commit", "-q", "-am", "main moves on")
    git(tmp_path, "checkout", "-q", "topic")
    write(tmp_path, "snippets/edited.py", "x = 4\n")  # not committed
    (tmp_path / "snippets" / "deleted.py").unlink()
    write(tmp_path, "snippets/untracked.py", "z = 1\n")
    write(tmp_path, "snippets/ignored.py", "z = 1\n")
    write(tmp_path, "snippets/notes.txt", "not a snippet\n")
    return tmp_path


def config(root: Path) -> EngineConfig:
    return EngineConfig.load(root, environ={})


def names(root: Path, ref: str) -> list[str]:
    paths, _ = ready.changed_snippets(config(root), ref)
    return [path.relative_to(root).as_posix() for path in paths]


def test_changed_snippets_are_the_branchs_changes_and_untracked_ones(repo: Path) -> None:
    assert names(repo, "main") == [
        "snippets/committed.py",
        "snippets/edited.py",
        "snippets/sub/nested.py",
        "snippets/untracked.py",
    ]
    _, since = ready.changed_snippets(config(repo), "main")
    assert since == "since main"


def test_without_the_ref_head_1_is_the_base(repo: Path, capsys: pytest.CaptureFixture) -> None:
    assert names(repo, "origin/main") == names(repo, "main")  # HEAD~1 is `base` here
    assert "note: origin/main does not exist in this repository" in capsys.readouterr().out


def test_format_and_lint_check_only_changed_snippets_at_88_columns(
    repo: Path, capfd: pytest.CaptureFixture
) -> None:
    context = ready.Context(config(repo), "main")
    assert ready.check_snippets(context) == ready.Finding(True, "4 snippets changed since main")
    out = capfd.readouterr().out
    assert "checking the snippets changed since main and untracked ones" in out
    assert "snippets/old_long.py" not in out
    write(repo, "snippets/edited.py", LONG)
    outcome = ready.check_snippets(context)
    assert outcome == ready.Finding(False, "4 snippets changed since main: format and lint")
    out = capfd.readouterr().out  # ruff's own report
    assert "snippets/edited.py" in out and "E501" in out


def test_no_changed_snippet_passes(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "all in")
    context = ready.Context(config(repo), "HEAD")
    assert ready.check_snippets(context) == ready.Finding(True, "no snippet changed since HEAD")


def stub(monkeypatch: pytest.MonkeyPatch, results: dict[str, ready.Outcome | Exception]):
    """Replace the four checks; return the order they are called in."""
    called: list[str] = []
    for name, result in results.items():

        def check(context: ready.Context, name=name, result=result) -> ready.Outcome:
            called.append(name)
            if isinstance(result, Exception):
                raise result
            return result

        monkeypatch.setattr(ready, name, check)
    return called


CHECKS = ["check_snippets", "check_fresh", "check_claims", "check_tests"]


def test_every_item_runs_in_order_and_failures_say_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.dlexec]\n")
    called = stub(
        monkeypatch,
        {
            "check_snippets": ready.Finding(True, "no snippet changed since main"),
            "check_fresh": ready.Finding(False, "1 problem with results, 0 stale notebooks"),
            "check_claims": EngineError("posts/p.md:3: bad\nclaim"),
            "check_tests": ready.Finding(True, "19 test files"),
        },
    )
    assert ready.ready(config(tmp_path), "main") == 1
    assert called == CHECKS  # the failures did not stop the later items
    out = capsys.readouterr().out
    headers = re.findall(r"^== (\d)/4 (.+)$", out, re.M)
    assert headers == [(str(i), title) for i, title in enumerate(TITLES, 1)]
    summary = out.rstrip("\n").splitlines()[-5:]
    assert summary[0] == "ready: 2 of 4 items fail (details above)"
    assert summary[1] == f"PASS  {TITLES[0]} (no snippet changed since main)"
    assert summary[2].startswith(f"FAIL  {TITLES[1]} (1 problem with results, 0 stale notebooks): ")
    assert "run `make site`" in summary[2] and "commit results/ and notebooks/" in summary[2]
    assert summary[3].startswith(f"FAIL  {TITLES[2]} (could not run: posts/p.md:3: bad claim): ")
    assert "`make verify`" in summary[3]
    assert summary[4] == f"PASS  {TITLES[3]} (19 test files)"


def test_all_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.dlexec]\n")
    stub(monkeypatch, {name: ready.Finding(True) for name in CHECKS})
    assert main(["--root", str(tmp_path), "ready", "main"]) == 0
    lines = capsys.readouterr().out.rstrip("\n").splitlines()[-5:]
    assert lines == ["ready: every item passes", *(f"PASS  {title}" for title in TITLES)]


def test_claims_and_tests_run_the_projects_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.dlexec]\n")
    commands: list[tuple[list[str], dict | None]] = []
    claims_line = "claims: 2 checked in 1 posts: 2 hold, 0 failed"

    def run(command: list[str], cwd: Path, env: dict | None = None) -> tuple[bool, str]:
        commands.append((command, env))
        if command[-1] == "check":
            return True, claims_line
        return True, "== 3 passed in 1.0s ==" if "pytest" in command else ""

    monkeypatch.setattr(ready, "_run", run)
    context = ready.Context(config(tmp_path), "main", build=True)
    assert ready.check_claims(context) == ready.Finding(True, claims_line)
    assert ready.check_tests(context) == ready.Finding(True, "the fast tier: 3 passed in 1.0s")
    assert ready.check_fresh(context).ok
    (claims, _), (tests, _), (build, env) = commands
    assert claims == [sys.executable, "-m", "dlexec", "--root", str(tmp_path), "check"]
    assert tests == [sys.executable, "-m", "pytest", "-q", "--tier", "fast", "-n", "auto"]
    assert build[1:5] == ["-m", "mkdocs", "build", "--strict"] and env["BLOG_EXECUTE"] == "never"


def test_a_stale_result_fails_the_freshness_check(tmp_path: Path, capsys) -> None:
    """What a BLOG_EXECUTE=never build refuses, without a build: here, a missing result."""
    (tmp_path / "pyproject.toml").write_text("[tool.dlexec]\n")
    write(tmp_path, "snippets/s.py", "# %% train\nx = 1\n")
    write(tmp_path, "posts/p.md", "---\ndate: 2026-01-01\n---\n# P\n\n[s](../snippets/s.py)\n")
    outcome = ready.check_fresh(ready.Context(config(tmp_path), "main"))
    assert not outcome.ok and outcome.detail.startswith("1 problem with results")
    assert "the committed result is missing; BLOG_EXECUTE=never" in capsys.readouterr().out


def test_the_fast_tier_is_chosen_by_marker_and_keeps_the_smoke_set():
    """What `make test` and `make ready` collect: no kernel, build, browser, Ray or slow test
    but the smoke set, which still drives the real configuration, a kernel and a browser."""
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--tier", "fast"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    fast = {line for line in listed.stdout.splitlines() if "::" in line}
    for slow_file in (
        "test_fixture_site.py",
        "test_ray.py::test_ray_stores",
        "test_pool.py::test_two",
    ):
        assert not [test for test in fast if slow_file in test], slow_file
    smoke = {
        "tests/test_real_site.py::test_a_new_snippet_runs_sandboxed_through_the_real_config",
        "tests/test_real_site.py::test_every_post_is_published_with_a_distinct_title",
        "tests/test_browser.py::test_dark_mode_toggle_swaps_the_curves",
    }
    assert smoke <= fast
    assert "tests/test_pool.py::test_ledger_hands_out_in_order_and_never_oversubscribes" in fast


def test_make_ready_runs_the_module():
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^ready: .*\n\t(.+)$", makefile, re.M)
    assert recipe and recipe[1] == "$(BIN)/python -m dlexec ready $(REF)"
    assert re.search(r"^# make ready REF=origin/main - ", makefile, re.M)
