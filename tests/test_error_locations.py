"""Where errors say they are: the post line a failing snippet is "used at", and the build's
summary of its errors (snippet errors counted apart from stale post notebooks)."""

from __future__ import annotations

import importlib.util
import logging
import shutil
import sys
from pathlib import Path

import pytest

from dlexec.build.engine import Engine, referrer_for
from dlexec.build.report import BuildReport, failing_cell
from dlexec.config import EngineConfig
from dlexec.errors import (
    AuthoringError,
    Location,
    SnippetFailedError,
    StaleNotebookError,
    StaleResultError,
)
from dlexec.present.notebooks import NotebookStamps, sync_post_notebooks
from dlexec.sources.posts import Embed, PostDocument, read_document
from dlexec.sources.snippets import load_snippet

REPO = Path(__file__).resolve().parents[1]
BAD_SNIPPETS = Path(__file__).parent / "fixtures" / "bad_snippets"
SNIPPET = Path("/project/snippets/s.py")
OTHER = Path("/project/snippets/other.py")
POST = Path("/project/posts/p.md")
LATER = Path("/project/posts/q.md")


def references(post: Path, *embeds: tuple[int, Path, str | None]) -> PostDocument:
    """A post's references: an embed per (line, snippet, cell)."""
    shown = tuple(Embed(post, line, snippet, cell) for line, snippet, cell in embeds)
    return PostDocument(post, shown, ())


# -- which embed a snippet's error is "used at" ---------------------------------------------

POSTS = [
    references(POST, (6, SNIPPET, "a"), (8, OTHER, "b"), (10, SNIPPET, "b"), (12, SNIPPET, None)),
    references(LATER, (5, SNIPPET, "c")),
]
FIRST = Location(POST, 6)


def test_the_embed_of_the_failing_cell_is_named():
    assert referrer_for(SNIPPET, "b", POSTS, FIRST) == Location(POST, 10)  # not other.py's #b


def test_a_cell_embedded_in_a_later_post_is_named_over_earlier_embeds():
    assert referrer_for(SNIPPET, "c", POSTS, FIRST) == Location(LATER, 5)


def test_a_cell_no_embed_shows_falls_back_to_the_whole_snippet_embed():
    assert referrer_for(SNIPPET, "d", POSTS, FIRST) == Location(POST, 12)
    assert referrer_for(SNIPPET, None, POSTS, FIRST) == Location(POST, 12)


def test_without_a_whole_snippet_embed_the_first_reference_is_named():
    posts = [references(POST, (6, SNIPPET, "a"), (10, SNIPPET, "b"))]
    assert referrer_for(SNIPPET, "d", posts, FIRST) == FIRST
    placeholder_only = Location(POST, 3)  # a snippet only a placeholder uses
    assert referrer_for(OTHER, "b", [], placeholder_only) == placeholder_only


def test_the_failing_cell_is_the_one_holding_the_errors_line(tmp_path: Path):
    path = tmp_path / "s.py"
    path.write_text("# %% a\nx = 1\n\n# %% b\ny = 2\nz = 3\n\n# %%\nw = 4\n")
    snippet = load_snippet(path)

    def failed(line: int | None) -> SnippetFailedError:
        return SnippetFailedError("snippet failed: E", Location(Path("snippets/s.py"), line))

    assert [failing_cell(snippet, failed(line)) for line in (2, 5, 6)] == ["a", "b", "b"]
    assert failing_cell(snippet, failed(9)) is None  # an unnamed cell
    assert failing_cell(snippet, failed(None)) is None  # e.g. the kernel setup failed
    stale = StaleResultError("the committed result is missing", Location(Path("snippets/s.py")))
    assert failing_cell(snippet, stale) is None


def test_a_snippet_error_without_a_cell_is_used_at_the_whole_snippet_embed(tmp_path: Path):
    """Through the engine, no kernel: BLOG_EXECUTE=never and no stored result."""
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "s.py").write_text("# %% a\nx = 1\n\n# %% b\ny = 2\n")
    (tmp_path / "posts").mkdir()
    post = tmp_path / "posts" / "p.md"
    post.write_text(
        "---\ndate: 2026-01-01\n---\n# P\n\n"
        "[A](../snippets/s.py#a)\n\n[B](../snippets/s.py#b)\n\n[All](../snippets/s.py)\n"
    )
    (tmp_path / "pyproject.toml").write_text("[tool.dlexec]\n")
    config = EngineConfig.load(tmp_path, environ={"BLOG_EXECUTE": "never"})
    report = Engine(config, log=lambda message: None).prepare([post])
    [error] = report.errors
    assert isinstance(error, StaleResultError)
    assert str(error).startswith("snippets/s.py: the committed result is missing")
    assert str(error).endswith("(used at posts/p.md:10)")


@pytest.mark.kernel
def test_a_failing_cell_is_used_at_its_own_embed(tmp_path: Path):
    """End to end, one real kernel: bad_snippets' raises.py fails in its cell `b`."""
    root = tmp_path / "project"
    (root / "snippets").mkdir(parents=True)
    (root / "posts").mkdir()
    (root / "mirror").mkdir()
    shutil.copy(BAD_SNIPPETS / "pyproject.toml", root)
    shutil.copy(BAD_SNIPPETS / "snippets" / "raises.py", root / "snippets")
    post = root / "posts" / "p.md"
    post.write_text(
        "---\ndate: 2026-01-01\n---\n# P\n\n"
        "[Before](../snippets/raises.py#a)\n\n[Index](../snippets/raises.py#b)\n"
    )
    config = EngineConfig.load(root, environ={"BLOG_EXECUTE": "auto"})
    report = Engine(config, log=lambda message: None).prepare([post])
    [error] = report.errors
    assert isinstance(error, SnippetFailedError)
    assert str(error) == (
        "snippets/raises.py:6: snippet failed: IndexError: list index out of range "
        "(used at posts/p.md:8)"
    )


# -- the summary of a build's errors ----------------------------------------------------------


def relative(path: Path) -> Path:
    return path.relative_to("/project")


def snippet_error() -> SnippetFailedError:
    return SnippetFailedError(
        "snippet failed: ZeroDivisionError: division by zero (used at posts/p.md:10)",
        Location(Path("snippets/s.py"), 9),
        "Traceback: 1 / 0",
    )


def stale_notebook(name: str) -> StaleNotebookError:
    return StaleNotebookError(
        f"the committed notebook {name}.ipynb does not match the post and its results; "
        "build once with BLOG_EXECUTE=auto and commit notebooks/",
        Location(Path(f"/project/posts/{name}.md")),
        Path(f"/project/notebooks/{name}.ipynb"),
    )


def test_snippet_errors_are_summarised_as_before():
    errors = [snippet_error(), AuthoringError("empty cell name after '#'", Location(POST, 6))]
    report = BuildReport(errors=errors)
    details = (
        "snippets/s.py:9: snippet failed: ZeroDivisionError: division by zero "
        "(used at posts/p.md:10)\nTraceback: 1 / 0\n\n"
        "/project/posts/p.md:6: empty cell name after '#'"
    )
    assert report.error_summary(relative, serving=True) == (
        f"2 snippet error(s), shown in the pages:\n{details}"
    )
    assert report.error_summary(relative) == f"2 snippet error(s):\n{details}"


def test_a_stale_notebook_is_not_a_snippet_error():
    report = BuildReport(errors=[stale_notebook("p")])
    expected = "1 stale notebook: notebooks/p.ipynb — run `make site` and commit notebooks/"
    assert report.error_summary(relative, serving=True) == expected
    assert report.error_summary(relative) == expected


def test_snippet_errors_and_stale_notebooks_are_counted_apart():
    report = BuildReport(errors=[stale_notebook("p"), snippet_error(), stale_notebook("q")])
    assert report.error_summary(relative, serving=True) == (
        "1 snippet error(s), shown in the pages:\n"
        "snippets/s.py:9: snippet failed: ZeroDivisionError: division by zero "
        "(used at posts/p.md:10)\nTraceback: 1 / 0\n\n"
        "2 stale notebooks: notebooks/p.ipynb, notebooks/q.ipynb — run `make site` and commit "
        "notebooks/"
    )


def test_a_never_build_reports_its_stale_post_notebook_as_one(tmp_path: Path, caplog, monkeypatch):
    """The error sync_post_notebooks gives, as the hook logs it under serve and fails a build."""
    from mkdocs.exceptions import PluginError

    (tmp_path / "snippets").mkdir()
    (tmp_path / "posts").mkdir()
    post = tmp_path / "posts" / "p.md"
    post.write_text("---\ndate: 2026-01-01\n---\n# P\n\nNo code.\n")
    report = BuildReport(posts={post: read_document(post, tmp_path / "snippets")})
    _, stale = sync_post_notebooks(
        report, tmp_path / "notebooks", False, lambda post: None, NotebookStamps(tmp_path / "st")
    )
    [error] = stale
    assert isinstance(error, StaleNotebookError) and isinstance(error, StaleResultError)
    assert error.notebook == tmp_path / "notebooks" / "p.ipynb"
    report.errors += stale

    (tmp_path / "pyproject.toml").write_text("[tool.dlexec]\n")
    adapter = load_hook("executed_snippets", monkeypatch).ADAPTER
    adapter.config = EngineConfig.load(tmp_path, environ={"BLOG_EXECUTE": "never"})
    expected = "1 stale notebook: notebooks/p.ipynb — run `make site` and commit notebooks/"
    adapter.serving = True
    with caplog.at_level(logging.ERROR, logger="dlexec.serve"):
        adapter.report_errors(report)
    assert [record.getMessage() for record in caplog.records] == [expected]
    adapter.serving = False
    with pytest.raises(PluginError) as failed:
        adapter.report_errors(report)
    assert str(failed.value) == expected


def load_hook(name: str, monkeypatch: pytest.MonkeyPatch):
    """A fresh copy of hooks/<name>.py (its own state, apart from any other test's)."""
    unique = f"_{name}_under_test"
    spec = importlib.util.spec_from_file_location(unique, REPO / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, unique, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module
