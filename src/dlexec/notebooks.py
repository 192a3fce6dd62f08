"""Notebooks made from results, never by re-running: a snippet's full run, and a whole post.

The post notebook is what a reader downloads (or opens in Colab): the post's prose as Markdown
cells, its code as code cells, and the outputs of the build's run. Notebooks are written
deterministically (fixed cell ids, sorted keys), so an unchanged post gives identical bytes.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .capture import ErrorOutput, HistoryOutput, ImageOutput, Output, TextOutput
from .errors import EngineError, Location, StaleResultError
from .pipeline import BuildReport, SnippetRun
from .posts import front_matter
from .render import expand_placeholders, provenance_text, resolve_embed, scan
from .snippets import Cell

MORE = "<!-- more -->"


def snippet_notebook(run: SnippetRun) -> NotebookNode:
    """The snippet's code cells with the outputs of its last run."""
    assert run.result is not None
    cells = [
        # Plain text: mkdocs-jupyter drops code spans from headings when it builds the TOC.
        nbformat.v4.new_markdown_cell(
            f"# The full run of {run.result.snippet}\n\n{provenance_text(run.result)}"
        )
    ]
    cells += _code_cells(run, list(run.snippet.cells))
    return _notebook(cells)


def post_notebook(post: Path, report: BuildReport, source_url: str | None = None) -> NotebookNode:
    """The post as a notebook: prose in Markdown cells, each embed as code cells with outputs."""
    text = post.read_text(encoding="utf-8")
    _, skip = front_matter(text, post)
    body = "\n".join(text.splitlines()[skip:])
    cells: list[NotebookNode] = []
    prose: list[str] = []
    for number, line, match in _all_lines(body):
        if match is None:
            if line.strip() != MORE:
                prose.append(expand_placeholders(line, post, number + skip, report))
            continue
        _flush(prose, cells)
        run, embedded = resolve_embed(match, post, report)
        if run is not None and run.result is not None:
            cells += _code_cells(run, embedded)
    _flush(prose, cells)
    if source_url:
        note = (
            f"*This notebook was made from [the post]({source_url}); "
            "the outputs are from the run that built it.*"
        )
        cells.insert(1 if cells else 0, nbformat.v4.new_markdown_cell(note))
    return _notebook(cells)


def write_if_changed(path: Path, notebook: NotebookNode) -> bool:
    """Write `notebook` atomically unless `path` already holds the same bytes; True if written."""
    content = dumps(notebook)
    if path.is_file() and path.read_text(encoding="utf-8") == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(handle, 0o644)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(content)
    os.replace(temporary, path)
    return True


def dumps(notebook: NotebookNode) -> str:
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _all_lines(body: str):
    """Every line of the body (code fences in prose included), with embed matches."""
    embeds = {number: match for number, _, match in scan(body) if match}
    for number, line in enumerate(body.splitlines(), 1):
        yield number, line, embeds.get(number)


def _flush(prose: list[str], cells: list[NotebookNode]) -> None:
    text = "\n".join(prose).strip()
    if text:
        cells.append(nbformat.v4.new_markdown_cell(text))
    prose.clear()


def _code_cells(run: SnippetRun, cells: list[Cell]) -> list[NotebookNode]:
    stored = {cell.index: cell.outputs for cell in run.result.cells} if run.result else {}
    made = []
    for cell in cells:
        code = nbformat.v4.new_code_cell(cell.source)
        code.outputs = [
            node for o in stored.get(cell.index, []) if (node := _output(o, run.folder))
        ]
        made.append(code)
    return made


def _output(output: Output, folder: Path) -> NotebookNode | None:
    if isinstance(output, TextOutput):
        if output.stream == "result":
            return nbformat.v4.new_output("display_data", data={"text/plain": output.text})
        return nbformat.v4.new_output("stream", name=output.stream, text=output.text)
    if isinstance(output, ImageOutput):
        if output.mime != "image/png":  # a snippet's SVG could carry script: leave it out
            return nbformat.v4.new_output("display_data", data={"text/plain": "[figure]"})
        data = base64.b64encode((folder / output.file).read_bytes()).decode()
        meta = {"image/png": {"width": output.width}} if output.width else {}
        return nbformat.v4.new_output("display_data", data={"image/png": data}, metadata=meta)
    if isinstance(output, HistoryOutput):
        svg = (folder / output.plots["light"]).read_text() if "light" in output.plots else ""
        text = f"Training curves of model '{output.model}'"
        return nbformat.v4.new_output(
            "display_data", data={"image/svg+xml": svg, "text/plain": text}
        )
    if isinstance(output, ErrorOutput):
        return nbformat.v4.new_output(
            "error",
            ename=output.ename,
            evalue=output.evalue,
            traceback=output.traceback.splitlines(),
        )
    return None


def _notebook(cells: list[NotebookNode]) -> NotebookNode:
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index}"
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return notebook


def colab_url(repo_url: str | None, branch: str, path: str) -> str | None:
    """Colab's address for a notebook committed to a GitHub repository (None elsewhere)."""
    prefix = "https://github.com/"
    if not repo_url or not repo_url.startswith(prefix):
        return None
    repository = repo_url[len(prefix) :].strip("/").removesuffix(".git")
    return f"https://colab.research.google.com/github/{repository}/blob/{branch}/{path}"


def sync_post_notebooks(
    report: BuildReport, folder: Path, write: bool, source_url: Callable[[Path], str | None]
) -> tuple[dict[Path, Path], list[EngineError]]:
    """Make each post's committed notebook match the post and its results.

    Returns post -> notebook path, and errors. Posts whose snippets failed keep their old
    notebook. With `write` False (BLOG_EXECUTE=never) a stale notebook is an error instead."""
    notebooks: dict[Path, Path] = {}
    errors: list[EngineError] = []
    failed_posts = {e.location.path for e in report.errors if e.location}
    for post in report.posts:
        path = folder / f"{post.stem}.ipynb"
        if post in failed_posts or _has_failed_embed(post, report):
            if path.is_file():
                notebooks[post] = path
            continue
        notebook = post_notebook(post, report, source_url(post))
        if write:
            write_if_changed(path, notebook)
        elif not path.is_file() or path.read_text(encoding="utf-8") != dumps(notebook):
            errors.append(StaleResultError(_stale_message(path), Location(post)))
            continue
        notebooks[post] = path
    return notebooks, errors


def _has_failed_embed(post: Path, report: BuildReport) -> bool:
    references = report.posts[post]
    runs = [report.runs.get(embed.snippet) for embed in references.embeds]
    return any(run is None or run.result is None or run.status == "failed" for run in runs)


def _stale_message(path: Path) -> str:
    return (
        f"the committed notebook {path.name} does not match the post and its results; "
        "build once with BLOG_EXECUTE=auto and commit notebooks/"
    )
