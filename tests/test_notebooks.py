"""Every post offers its notebook: the download works, its outputs are the page's, and the
Colab link opens the committed copy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import markdown
from bs4 import BeautifulSoup
from conftest import REPO

import dlexec.present.notebooks as notebooks
from dlexec.build.report import BuildReport, SnippetRun
from dlexec.present.notebooks import (
    NotebookStamps,
    markdown_url,
    snippet_notebook,
    sync_post_notebooks,
)
from dlexec.sources.posts import read_document
from dlexec.sources.snippets import load_snippet
from dlexec.store.outputs import HistoryOutput, ImageOutput, TextOutput
from dlexec.store.results import CellResult, Result, save_result

COLAB = "https://colab.research.google.com/github/example/deep-learning-executed/blob/main/"


def test_each_post_links_its_notebook_and_colab(real_site: Path):
    pages = sorted(real_site.glob("20*/*/*/*/index.html"))
    assert pages
    for page in pages:
        soup = BeautifulSoup(page.read_text(), "html.parser")
        download = soup.find("a", string="Download notebook")
        colab = soup.find("a", string="Open in Colab")
        assert download is not None and colab is not None, page
        notebook_file = (page.parent / download["href"]).resolve()
        assert notebook_file.is_file(), download["href"]
        committed = REPO / "notebooks" / notebook_file.name
        assert colab["href"] == COLAB + "notebooks/" + notebook_file.name
        assert committed.read_bytes() == notebook_file.read_bytes()
        notebook = json.loads(committed.read_text())
        check_outputs_match_page(notebook, page.read_text())
        [computed_with] = notebook["metadata"]["dlexec"]["outputs_computed_with"]
        assert re.fullmatch(r"TensorFlow [\d.]+ · Keras [\d.]+", computed_with)
        note = "".join(notebook["cells"][1]["source"])
        assert f"the outputs are from the run that built it ({computed_with})" in note


def check_outputs_match_page(notebook: dict, page_html: str) -> None:
    # The page's text, not its markup: mkdocs-glightbox re-serialises the page (`'` for `&#x27;`).
    page_text = BeautifulSoup(page_html, "html.parser").get_text()
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code and any(cell["outputs"] for cell in code)
    for cell in code:
        for output in cell["outputs"]:
            if output["output_type"] == "stream":
                text = "".join(output["text"])
                for line in text.splitlines()[-3:]:
                    assert line in page_text, line
    markdown = "".join(
        "".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"
    )
    assert "{{" not in markdown and "<!-- more -->" not in markdown


# -- what the engine writes into notebooks is escaped, and no snippet SVG gets in ---------------

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def hostile_run(tmp_path: Path, outputs: list) -> SnippetRun:
    snippets = tmp_path / "snippets"
    snippets.mkdir(exist_ok=True)
    path = snippets / "s.py"
    path.write_text("# %% a\nprint(1)\n")
    folder = tmp_path / "results" / "s"
    folder.mkdir(parents=True, exist_ok=True)
    result = Result(
        snippet=f"snippets/{HOSTILE}[x](javascript:alert(3))*_`$x$`.py",
        key="k",
        inputs={},
        provenance={"device": f"GPU {HOSTILE}", "wall_time_s": 1.5, "date": "2026-11-21"},
        cells=[CellResult(0, "a", outputs)],
    )
    return SnippetRun(load_snippet(path), "reused", folder, result)


def code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_the_run_notebook_escapes_the_snippet_path_and_provenance(tmp_path: Path):
    notebook = snippet_notebook(hostile_run(tmp_path, []))
    heading = "".join(notebook.cells[0].source)
    assert "<script>" not in heading and "<img" not in heading
    assert "&#60;script&#62;" in heading
    assert (
        "[x](" not in heading and "&#91;x&#93;&#40;javascript&#58;alert&#40;3&#41;&#41;" in heading
    )
    assert "&#42;&#95;&#96;&#36;x&#36;&#96;" in heading
    assert heading.count("\n") == 2  # a path cannot add lines (and with them, Markdown blocks)
    converted = markdown.markdown(heading)
    assert "<script" not in converted and "<a " not in converted and "<em>" not in converted
    assert "GPU &#60;script&#62;" in converted


def test_the_run_notebook_numbers_its_cells_and_says_how_long_each_ran(tmp_path: Path):
    from dataclasses import replace

    run = hostile_run(tmp_path, [TextOutput("stdout", "1\n")])
    timed = replace(run.result, provenance={**run.result.provenance, "cell_wall_time_s": [12.5]})
    notebook = snippet_notebook(replace(run, result=timed))
    [code] = code_cells(notebook)
    assert code.execution_count == 1  # the run page shows "In [1]", not an unexecuted "In [ ]"
    label = notebook.cells[notebook.cells.index(code) - 1]
    assert label.cell_type == "markdown" and label.source == "*a · ran 12.5 s*"


def test_no_snippet_svg_reaches_a_notebook(tmp_path: Path):
    run = hostile_run(
        tmp_path,
        [
            ImageOutput("figure-0123456789abcdef.svg", "image/svg+xml"),
            ImageOutput("../../../etc/passwd", "image/png"),
            HistoryOutput("m", [1], {"loss": [1.0]}, {"light": "figure-0123456789abcdef.svg"}),
            HistoryOutput("m", [1], {"loss": [1.0]}, {"card": "curves-0123456789abcdef-card.svg"}),
        ],
    )
    (run.folder / "figure-0123456789abcdef.svg").write_text(f"<svg>{HOSTILE}</svg>")
    (run.folder / "curves-0123456789abcdef-card.svg").write_text("<svg>engine</svg>")
    outputs = code_cells(snippet_notebook(run))[0].outputs
    assert [o.data.get("text/plain") for o in outputs[:2]] == ["[figure]", "[figure]"]
    assert [o.data["image/svg+xml"] for o in outputs[2:]] == ["", "<svg>engine</svg>"]
    assert HOSTILE not in json.dumps(outputs)


def test_figures_are_embedded_as_png_or_jpeg(tmp_path: Path):
    run = hostile_run(
        tmp_path,
        [
            ImageOutput("figure-0000000000000000.png", "image/png", 300),
            ImageOutput("figure-1111111111111111.jpg", "image/jpeg"),
        ],
    )
    (run.folder / "figure-0000000000000000.png").write_bytes(b"png")
    (run.folder / "figure-1111111111111111.jpg").write_bytes(b"jpg")
    png, jpeg = code_cells(snippet_notebook(run))[0].outputs
    assert png.data == {"image/png": "cG5n"} and png.metadata == {"image/png": {"width": 300}}
    assert jpeg.data == {"image/jpeg": "anBn"} and jpeg.metadata == {}


def test_only_http_links_are_written_and_they_are_percent_encoded():
    assert markdown_url("javascript:alert(1)") is None
    assert markdown_url("https://x.org/a b)(<c>.md") == "https://x.org/a%20b%29%28%3Cc%3E.md"
    plain = "https://github.com/example/deep-learning-executed/blob/main/posts/a-post.md"
    assert markdown_url(plain) == plain


# -- a notebook is made only when what it is made from changed ----------------------------------

POST = "---\ndate: 2026-01-01\n---\n# P\n\nIt prints {{ s.answer }}.\n\n[s](../snippets/s.py)\n"


def stored_report(tmp_path: Path, post_text: str) -> tuple[BuildReport, Path]:
    """A report of one post embedding one snippet whose result is stored in its folder."""
    run = hostile_run(tmp_path, [TextOutput("stdout", "42\n")])
    stored = save_result(run.folder, Result(**{**vars(run.result), "values": {"answer": 42}}), {})
    run = SnippetRun(run.snippet, "reused", run.folder, stored)
    post = tmp_path / "posts" / "p.md"
    post.parent.mkdir(exist_ok=True)
    post.write_text(post_text)
    references = read_document(post, tmp_path / "snippets")
    return BuildReport(runs={run.snippet.path: run}, posts={post: references}), post


def test_a_post_notebook_is_made_again_only_when_its_inputs_change(tmp_path: Path, monkeypatch):
    stamps, folder = NotebookStamps(tmp_path / "stamps"), tmp_path / "notebooks"
    made: list[Path] = []
    make = notebooks.post_notebook
    monkeypatch.setattr(
        notebooks, "post_notebook", lambda post, *a: made.append(post) or make(post, *a)
    )

    def sync(report: BuildReport, write: bool) -> list[str]:
        _, errors = sync_post_notebooks(report, folder, write, lambda post: None, stamps)
        return [str(error) for error in errors]

    report, post = stored_report(tmp_path, POST)
    assert sync(report, write=True) == [] and made == [post]
    path = folder / "p.ipynb"
    first = path.read_bytes()
    assert b"It prints 42." in first

    made.clear()
    assert sync(report, write=False) == [] and made == []  # unchanged: not made again
    assert path.read_bytes() == first

    path.write_bytes(first.replace(b"It prints 42.", b"It prints 43."))  # edited by hand
    [error] = sync(report, write=False)
    assert "does not match the post" in error and made == [post]

    made.clear()
    report, post = stored_report(tmp_path, POST.replace("It prints", "It now prints"))
    assert sync(report, write=True) == [] and made == [post]  # the post changed: made again
    assert b"It now prints 42." in path.read_bytes()

    made.clear()
    run = next(iter(report.runs.values()))
    newer = save_result(run.folder, Result(**{**vars(run.result), "values": {"answer": 41}}), {})
    report.runs[run.snippet.path] = SnippetRun(run.snippet, "reused", run.folder, newer)
    assert sync(report, write=True) == [] and made == [post]  # a new result: made again
    assert b"It now prints 41." in path.read_bytes()

    made.clear()
    (run.folder / "matrix.json").write_text('{"format": 1, "variants": {}}\n')
    assert sync(report, write=True) == [] and made == [post]  # `| range` reads the matrix
