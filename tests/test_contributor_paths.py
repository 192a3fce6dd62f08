"""What a contributor meets first: `make new-post`, `make serve`, `python -m dlexec run`.

- The scaffold's description is a placeholder a build warns about (a strict build fails).
- `make serve` prints the address it serves at (the path of site_url) and takes PORT and ADDR.
- `dlexec run` says which committed post notebooks its new results left stale, and only then.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import pytest
from conftest import MKDOCS, REPO, mkdocs_build, wait_until

import dlexec.build.engine as pipeline
from dlexec.build.report import SnippetRun
from dlexec.config import EngineConfig
from dlexec.sources.expectations import NAME, read_expectations
from dlexec.sources.posts import front_matter, read_document
from dlexec.sources.snippets import load_snippet
from dlexec.store.keys import key_inputs
from dlexec.store.outputs import TextOutput
from dlexec.store.results import CellResult, Result, save_result
from dlexec.tools import cli
from dlexec.tools.scaffold import (
    OLD_PLACEHOLDER_DESCRIPTIONS,
    PLACEHOLDER_DESCRIPTION,
    new_post,
    placeholder_description_warnings,
    serve_url,
)

# -- make new-post: the placeholder description is recognisable, and the build warns -----------


@pytest.fixture
def blank(tmp_path: Path) -> EngineConfig:
    """An empty project: pyproject.toml, posts/ and snippets/."""
    for folder in ("posts", "snippets"):
        (tmp_path / folder).mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.dlexec]\n")
    return EngineConfig.load(tmp_path, environ={})


def top_level_names(source: str) -> set[str]:
    tree = ast.parse(source)
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        for target in targets:
            elements = target.elts if isinstance(target, ast.Tuple) else [target]
            names |= {element.id for element in elements if isinstance(element, ast.Name)}
    return names


def test_the_scaffold_writes_the_placeholder_and_a_claim_against_a_computed_baseline(
    blank: EngineConfig,
):
    post, snippet = new_post(blank, "Regularization: in practice", date(2026, 3, 1))
    assert (post.name, snippet.name) == (
        "regularization-in-practice.md",
        "regularization_in_practice.py",
    )
    meta, _ = front_matter(post.read_text(), post)
    assert meta["description"] == PLACEHOLDER_DESCRIPTION
    assert str(meta["date"]) == "2026-03-01" and meta["slug"] == "regularization-in-practice"
    # CONTRIBUTING.md: every post claims a result against another value its runs computed.
    claims = read_expectations(post)
    assert any(NAME.match(claim.operand) for claim in claims)
    values = top_level_names(snippet.read_text())
    named = {claim.subject for claim in claims} | {
        c.operand for c in claims if NAME.match(c.operand)
    }
    assert {name.split(".", 1)[1] for name in named} <= values
    references = read_document(post, blank.snippets_dir)
    assert [embed.snippet for embed in references.embeds] == [snippet.resolve()]
    assert {p.value for p in references.placeholders} <= values
    assert load_snippet(snippet).cell("train") is not None


def test_a_post_still_carrying_the_placeholder_is_named_with_its_line(blank: EngineConfig):
    post, _ = new_post(blank, "My post")
    line = next(
        number
        for number, text in enumerate(post.read_text().splitlines(), 1)
        if text.startswith("description:")
    )
    [warning] = placeholder_description_warnings(blank.posts_dir)
    assert warning.startswith(f"posts/my-post.md:{line}: `description` is still the placeholder")
    assert "make new-post" in warning

    post.write_text(post.read_text().replace(json.dumps(PLACEHOLDER_DESCRIPTION), "Dropout."))
    assert placeholder_description_warnings(blank.posts_dir) == []


def test_the_old_placeholder_and_a_half_edited_one_are_caught_too(blank: EngineConfig):
    posts = blank.posts_dir
    (posts / "old.md").write_text(f"---\ndescription: {OLD_PLACEHOLDER_DESCRIPTIONS[0]}\n---\n")
    (posts / "half.md").write_text('---\ndescription: "REPLACE ME: dropout, explained."\n---\n')
    (posts / "fine.md").write_text("---\ndescription: What dropout does.\n---\n")
    (posts / "none.md").write_text("---\ndate: 2026-01-01\n---\n# No description\n")
    (posts / "odd.md").write_text("---\ndescription: [1, 2]\n---\n")
    (posts / "broken.md").write_text("---\ndescription: [unclosed\n---\n")  # the engine reports it
    warnings = placeholder_description_warnings(posts)
    assert [warning.split(":", 2)[:2] for warning in warnings] == [
        ["posts/half.md", "2"],
        ["posts/old.md", "2"],
    ]


WARN_HOOK = """
from pathlib import Path

from mkdocs.plugins import get_plugin_logger

from dlexec.tools.scaffold import placeholder_description_warnings

log = get_plugin_logger("dlexec")  # as hooks/executed_snippets.py logs


def on_files(files, config):
    posts_dir = Path(config.config_file_path).parent / "posts"
    for warning in placeholder_description_warnings(posts_dir):
        log.warning(warning)
    return files
"""


@pytest.mark.build
def test_a_strict_build_fails_on_the_warning_logged_as_the_engine_logs(blank: EngineConfig):
    """The line proposed for hooks/executed_snippets.py's on_files, in a hook of its own."""
    root = blank.root
    (root / "docs").mkdir()
    (root / "docs" / "index.md").write_text("# Home\n")
    (root / "warn_hook.py").write_text(WARN_HOOK)
    (root / "mkdocs.yml").write_text("site_name: T\nhooks:\n  - warn_hook.py\n")
    post, _ = new_post(blank, "My post")

    def build() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*MKDOCS, "build", "--strict", "--site-dir", str(root / "site")],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        )

    failed = build()
    assert failed.returncode != 0
    assert "posts/my-post.md:" in failed.stderr and "still the placeholder" in failed.stderr
    post.write_text(post.read_text().replace(json.dumps(PLACEHOLDER_DESCRIPTION), "Dropout."))
    built = build()
    assert built.returncode == 0, built.stderr


# -- make serve: the address, with the path of site_url, and PORT / ADDR -------------------------


def test_serve_url_has_the_path_of_site_url(tmp_path: Path):
    config = tmp_path / "mkdocs.yml"
    config.write_text(
        "site_name: T\nsite_url: https://example.github.io/deep-learning-executed\n"
        "markdown_extensions:\n  - pymdownx.superfences:\n      custom_fences:\n"
        "        - name: math\n          class: math\n"
        "          format: !!python/name:pymdownx.superfences.fence_code_format\n"
    )
    assert serve_url("127.0.0.1", 8001, tmp_path) == (
        "http://127.0.0.1:8001/deep-learning-executed/"
    )
    config.write_text("site_name: T\nsite_url: https://example.org\n")
    assert serve_url("0.0.0.0", "8000", tmp_path) == "http://0.0.0.0:8000/"
    config.write_text("site_name: T\n")
    assert serve_url("127.0.0.1", 8000, tmp_path) == "http://127.0.0.1:8000/"
    assert serve_url("127.0.0.1", 8000, tmp_path / "nowhere") == "http://127.0.0.1:8000/"


def test_the_real_site_is_served_under_its_site_url_path():
    assert serve_url("127.0.0.1", 8000, REPO) == "http://127.0.0.1:8000/deep-learning-executed/"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


MAKE_SERVE = ["make", "-s", "-f", str(REPO / "Makefile"), "serve", "STAMP="]


@pytest.mark.build
def test_make_serve_prints_the_address_it_serves_at_on_the_port_asked_for(tmp_path: Path):
    """The Makefile's own target (its venv set-up skipped) on a small site with a site_url path."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Served here\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: T\nsite_url: https://example.org/some/blog/\n")
    port = free_port()
    server = subprocess.Popen(
        [*MAKE_SERVE, f"BIN={sys.prefix}/bin", f"PORT={port}"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # make, its shell and mkdocs: one group, stopped together
    )
    try:
        first = server.stdout.readline().strip()
        url = f"http://127.0.0.1:{port}/some/blog/"
        assert first == f"serving at {url}"

        def page() -> str | None:
            assert server.poll() is None, "make serve exited"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return response.read().decode()
            except urllib.error.URLError:
                return None

        assert "Served here" in wait_until(page, 60, f"nothing answered at {url}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.url == url  # / only redirects to the site's path
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        server.stdout.close()


# -- dlexec run: the post notebooks its results left stale -------------------------------------


def store_tiny_result(config: EngineConfig, printed: str) -> Result:
    """A result for the fixture's snippets/tiny.py as a run would store it, printing `printed`."""
    snippet = load_snippet(config.snippets_dir / "tiny.py")
    inputs = key_inputs(snippet, config.keras_home, config.data_mirror)
    result = Result(
        "snippets/tiny.py",
        inputs.key,
        dataclasses.asdict(inputs),
        {"backend": "tensorflow", "tensorflow": "2.0", "keras": "3.0", "date": "2026-01-01"},
        [
            CellResult(0, "data", [TextOutput("stdout", "samples: 64\n")]),
            CellResult(1, "train", [TextOutput("stdout", printed)]),
        ],
        {"n_samples": 64, "final_loss": 0.5},
    )
    return save_result(config.results_dir / "tiny", result, {})


@pytest.fixture
def built(site_project: Path) -> EngineConfig:
    """The fixture blog with a stored result (no kernel ran) and the notebook its build wrote
    (the real hook; BLOG_EXECUTE=auto reuses the result), its repository named so the notebook links the post."""
    mkdocs = site_project / "mkdocs.yml"
    mkdocs.write_text(
        "repo_url: https://github.com/example/blog\nextra:\n  repo_branch: trunk\n"
        + mkdocs.read_text()
    )
    config = EngineConfig.load(site_project, environ={})
    store_tiny_result(config, "loss: 0.5\n")
    done = mkdocs_build(site_project, "auto")
    assert "snippets: 0 executed, 1 reused" in done.stderr
    assert done.returncode == 0, done.stderr
    notebook = site_project / "notebooks" / "tiny.ipynb"
    assert "github.com/example/blog/blob/trunk/posts/tiny.md" in notebook.read_text()
    return config


@pytest.mark.build
def test_a_notebook_is_stale_only_when_a_new_result_changes_it(built: EngineConfig):
    tiny = built.snippets_dir / "tiny.py"
    assert cli.notebooks_left_stale(built, [tiny]) == []
    store_tiny_result(built, "loss: 0.4\n")
    committed = (built.notebooks_dir / "tiny.ipynb").read_bytes()
    stale = cli.notebooks_left_stale(built, [tiny])
    assert stale == [built.notebooks_dir / "tiny.ipynb"]
    assert (built.notebooks_dir / "tiny.ipynb").read_bytes() == committed  # only checked
    assert cli.stale_notebooks_line(built, stale) == (
        "post notebooks now stale: notebooks/tiny.ipynb; `make site` rewrites it from the "
        "stored results (commit notebooks/ with results/)"
    )
    assert cli.stale_notebooks_line(built, []) is None
    # A snippet no post uses leaves no notebook stale.
    other = built.snippets_dir / "other.py"
    other.write_text("# %% a\nx = 1\n")
    assert cli.notebooks_left_stale(built, [other]) == []
    # Without stamps (a fresh clone) the notebook is made and compared.
    store_tiny_result(built, "loss: 0.5\n")
    for stamp in (built.root / ".cache" / "notebook-stamps").iterdir():
        stamp.unlink()
    assert cli.notebooks_left_stale(built, [tiny]) == []
    (built.notebooks_dir / "tiny.ipynb").unlink()
    stale = cli.notebooks_left_stale(built, [tiny])
    assert "notebooks/tiny.ipynb (missing)" in cli.stale_notebooks_line(built, stale)


def fake_runs(monkeypatch: pytest.MonkeyPatch, printed: str) -> None:
    """`Engine.ensure` stores a result printing `printed`, as an executed run (no kernel)."""

    def ensure(self, snippet, referrer, report):
        result = store_tiny_result(self.config, printed)
        return SnippetRun(snippet, "executed", self.result_folder(snippet), result)

    monkeypatch.setattr(pipeline.Engine, "ensure", ensure)


@pytest.mark.build
def test_run_names_the_stale_notebook_after_its_summary_line(
    built: EngineConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    fake_runs(monkeypatch, "loss: 0.4\n")
    monkeypatch.chdir(built.root)
    assert cli.main(["--root", str(built.root), "run", "snippets/tiny.py"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith("snippets: 1 executed, 0 reused, 0 failed")
    assert lines[-1].startswith("post notebooks now stale: notebooks/tiny.ipynb; `make site`")


@pytest.mark.build
def test_run_says_nothing_when_the_notebook_still_matches(
    built: EngineConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    fake_runs(monkeypatch, "loss: 0.5\n")  # the run reproduced the stored result
    monkeypatch.chdir(built.root)
    assert cli.main(["--root", str(built.root), "run", "snippets/tiny.py"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("snippets: 1 executed, 0 reused, 0 failed")
    assert not any("stale" in line for line in lines)
