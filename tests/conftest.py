"""Shared fixtures: a copy of the tiny fixture site, wired to this repository's hook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlexec.posts import PostReferences, find_references

REPO = Path(__file__).resolve().parents[1]
FIXTURE_SITE = Path(__file__).parent / "fixtures" / "tiny_blog"
MKDOCS = [sys.executable, "-m", "mkdocs"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with posts/ and one snippet, snippets/s.py (cell `train`), for parser tests."""
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "s.py").write_text("# %% train\nx = 1\n")
    (tmp_path / "posts").mkdir()
    return tmp_path


def refs(project: Path, text: str) -> PostReferences:
    """The references of a post posts/p.md in `project` holding `text`."""
    post = project / "posts" / "p.md"
    post.write_text(text)
    return find_references(post, project / "snippets")


@pytest.fixture
def site_project(tmp_path: Path) -> Path:
    """A fresh copy of tests/fixtures/tiny_blog whose mkdocs.yml points at the real hook."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURE_SITE, project)
    config = project / "mkdocs.yml"
    hook = (REPO / "hooks" / "executed_snippets.py").as_posix()
    config.write_text(config.read_text().replace("HOOK_PATH", hook))
    return project


def mkdocs_build(
    project: Path, mode: str = "auto", *extra: str
) -> subprocess.CompletedProcess[str]:
    """Run `mkdocs build` in `project` with BLOG_EXECUTE=`mode`; return the finished process."""
    env = {**os.environ, "BLOG_EXECUTE": mode, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [*MKDOCS, "build", "--strict", *extra],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def kernel_pids(parent: int | None = None) -> set[int]:
    """PIDs of the running Jupyter kernels that descend from process `parent` (this test
    process by default). A kernel some other program started meanwhile (another terminal's
    `make serve`) is not one of them."""
    import psutil

    try:
        descendants = psutil.Process(parent or os.getpid()).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    pids = set()
    for process in descendants:
        try:
            if any("ipykernel_launcher" in part for part in process.cmdline()):
                pids.add(process.pid)
        except psutil.Error:
            continue
    return pids


@pytest.fixture(scope="session")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real blog, built once per test session with BLOG_EXECUTE=never (results must be
    fresh) into a temporary folder."""
    site = tmp_path_factory.mktemp("real") / "site"
    built = mkdocs_build(REPO, "never", "--site-dir", str(site))
    assert built.returncode == 0, built.stderr
    assert re.search(r"snippets: 0 executed, \d+ reused, 0 failed", built.stderr)
    return site


def engine_project(
    root: Path, snippets: dict[str, str], pyproject: str = "[tool.dlexec]\ntimeout = 120\n"
):
    """A project in `root` whose post posts/p.md embeds each snippet (name -> source)."""
    from dlexec.config import EngineConfig

    for folder in ("snippets", "posts"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(pyproject)
    embeds = "\n\n".join(f"[{name}](../snippets/{name}.py)" for name in snippets)
    (root / "posts" / "p.md").write_text(f"---\ndate: 2026-01-01\n---\n# P\n\n{embeds}\n")
    for name, text in snippets.items():
        (root / "snippets" / f"{name}.py").write_text(text)
    return EngineConfig.load(root, environ={"BLOG_EXECUTE": "always"})


def prepare_into(config, environ: dict[str, str], results: str):
    """Prepare the project's post into its own results folder; the report and log lines."""
    from dataclasses import replace

    from dlexec.pipeline import Engine

    config = replace(
        config, results_dir=config.root / results, local_results=config.root / f".{results}"
    )
    messages: list[str] = []
    report = Engine(config, log=messages.append, environ=environ).prepare(
        [config.posts_dir / "p.md"]
    )
    return report, messages


def git(root: Path, *args: str) -> str:
    """Run git in `root` as a throwaway committer; its standard output."""
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout
