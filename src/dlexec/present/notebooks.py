"""Notebooks made from results, never by re-running: a snippet's full run, and a whole post.

The post notebook is what a reader downloads (or opens in Colab): the post's prose as Markdown
cells, its code as code cells, and the outputs of the build's run. Notebooks are written
deterministically (fixed cell ids, sorted keys), so an unchanged post gives identical bytes.

Making a notebook costs more than the rest of a build that executes nothing (nbformat's import,
and its validation of every cell), so a notebook is made only when what it is made from changed:
`NotebookStamps` remembers, per notebook file, the key of its inputs (the engine's code,
nbformat's version, the post or snippet text, the result files) and the hash of the bytes made
from them.

Only the post's own prose is Markdown; every path or name the engine writes into a Markdown
cell is escaped (HTML and Markdown syntax alike). Figures are embedded only as PNG or JPEG; the
one SVG a notebook holds is the training-curve figure the engine drew itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from ..backends import BACKEND_NAMES, MAIN_BACKEND
from ..build.report import BuildReport, SnippetRun
from ..errors import EngineError, Location, StaleNotebookError
from ..files import atomic_write
from ..sources.snippets import Cell
from ..sources.values import literal_markdown
from ..store.curves import CARD
from ..store.outputs import ErrorOutput, HistoryOutput, ImageOutput, Output, TextOutput
from ..store.results import MATRIX_FILE, RESULT_FILE
from .outputs_html import backend_text, provenance_text
from .page import expand_placeholders, resolve_embed

if TYPE_CHECKING:
    from nbformat import NotebookNode

MORE = "<!-- more -->"
# Characters that could start Markdown syntax (emphasis, code, links, headings, tables, math)
# anywhere in a line; `<`, `>` and `&` are HTML-escaped instead.
RASTER_TYPES = ("image/png", "image/jpeg")
RESULT_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a name in a result folder, no path
ENGINE_CURVES = re.compile(r"curves-[0-9a-f]{16}-card\.svg")  # named by plots.curve_files


def _v4() -> ModuleType:
    """nbformat's v4 API, imported when a notebook is made (not by a build that makes none)."""
    import nbformat.v4

    return nbformat.v4


def snippet_notebook(run: SnippetRun) -> NotebookNode:
    """The snippet's code cells with the outputs of its last run."""
    assert run.result is not None
    cells = [
        # Plain text: mkdocs-jupyter drops code spans from headings when it builds the TOC.
        _v4().new_markdown_cell(
            f"# The full run of {markdown_text(run.result.snippet)}\n\n"
            f"{markdown_text(provenance_text(run.result))}"
        )
    ]
    times = run.result.cell_times()
    for cell, code in zip(
        run.snippet.cells, _code_cells(run, list(run.snippet.cells)), strict=True
    ):
        label = _cell_label(cell.name, times.get(cell.index))
        if label:
            cells.append(_v4().new_markdown_cell(label))
        cells.append(code)
    return _notebook(cells)


def _cell_label(name: str | None, seconds: float | None) -> str:
    """'*train · ran 95.2 s*': the cell's name and how long it ran, as far as known."""
    parts = [markdown_text(name)] if name else []
    if seconds is not None:
        parts.append(f"ran {seconds:g} s")
    return f"*{' · '.join(parts)}*" if parts else ""


def post_notebook(
    post: Path, report: BuildReport, source_url: str | None = None, page_url: str | None = None
) -> NotebookNode:
    """The post as a notebook: prose in Markdown cells, each embed as code cells with outputs
    (the main run's); the note under the title says where the other backends' outputs are."""
    document = report.posts[post]  # read once, by the build
    cells: list[NotebookNode] = []
    prose: list[str] = []
    for _, line, embed, placeholders in document.body():
        if embed is None:
            if line.strip() != MORE:
                prose.append(expand_placeholders(line, placeholders, report))
            continue
        _flush(prose, cells)
        run, embedded = resolve_embed(embed, report)
        if run is not None and run.result is not None:
            cells += _code_cells(run, embedded)
    _flush(prose, cells)
    backends = _backends(post, report)
    made_by = f" ({markdown_text(' and '.join(backends))})" if backends else ""
    link = markdown_url(source_url) if source_url else None
    if link:
        note = (
            f"*This notebook was made from [the post]({link}); "
            f"the outputs are from the run that built it{made_by}.*"
        )
        page = markdown_url(page_url) if page_url else None
        if page and len(report.backends) > 1:
            others = " and ".join(BACKEND_NAMES[b] for b in report.backends if b != MAIN_BACKEND)
            note += (
                f" *The same code's outputs on {others} are on [the post's page]({page}), in "
                "the tabs under each output.*"
            )
        cells.insert(1 if cells else 0, _v4().new_markdown_cell(note))
    notebook = _notebook(cells)
    notebook.metadata["dlexec"] = {"outputs_computed_with": backends}
    return notebook


def _backends(post: Path, report: BuildReport) -> list[str]:
    """What computed the outputs of the post's snippets ('TensorFlow 2.21.0 · Keras 3.15.1')."""
    runs = [report.runs.get(embed.snippet) for embed in report.posts[post].embeds]
    found = {backend_text(run.result.provenance) for run in runs if run and run.result}
    return sorted(found)


def write_if_changed(path: Path, content: bytes) -> bool:
    """Write `content` atomically unless `path` already holds it; True if written."""
    if path.is_file() and path.read_bytes() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, content)
    return True


def dumps(notebook: NotebookNode) -> str:
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _flush(prose: list[str], cells: list[NotebookNode]) -> None:
    text = "\n".join(prose).strip()
    if text:
        cells.append(_v4().new_markdown_cell(text))
    prose.clear()


def _code_cells(run: SnippetRun, cells: list[Cell]) -> list[NotebookNode]:
    stored = {cell.index: cell.outputs for cell in run.result.cells} if run.result else {}
    made = []
    for cell in cells:
        code = _v4().new_code_cell(cell.source)
        code.outputs = [
            node for o in stored.get(cell.index, []) if (node := _output(o, run.folder))
        ]
        if cell.index in stored:  # the run's kernel ran the snippet's cells in file order
            code.execution_count = cell.index + 1
        made.append(code)
    return made


def _output(output: Output, folder: Path) -> NotebookNode | None:
    v4 = _v4()
    if isinstance(output, TextOutput):
        if output.stream == "result":
            return v4.new_output("display_data", data={"text/plain": output.text})
        return v4.new_output("stream", name=output.stream, text=output.text)
    if isinstance(output, ImageOutput):
        # Only rasters: a snippet's SVG could carry script (capture stores SVG as PNG; older
        # results may still hold one).
        if output.mime not in RASTER_TYPES or not RESULT_FILE_NAME.fullmatch(output.file):
            return v4.new_output("display_data", data={"text/plain": "[figure]"})
        data = base64.b64encode((folder / output.file).read_bytes()).decode()
        meta = {output.mime: {"width": output.width}} if output.width else {}
        return v4.new_output("display_data", data={output.mime: data}, metadata=meta)
    if isinstance(output, HistoryOutput):
        # The engine's own curve figure (trusted); any other file name is not embedded.
        name = output.plots.get(CARD, "")
        svg = (folder / name).read_text() if ENGINE_CURVES.fullmatch(name) else ""
        text = f"Training curves of model '{output.model}'"
        return v4.new_output("display_data", data={"image/svg+xml": svg, "text/plain": text})
    if isinstance(output, ErrorOutput):
        return v4.new_output(
            "error",
            ename=output.ename,
            evalue=output.evalue,
            traceback=output.traceback.splitlines(),
        )
    return None


def markdown_text(text: str) -> str:
    """`text` as literal text on one line of a Markdown cell: HTML and Markdown syntax escaped."""
    return literal_markdown(" ".join(text.split()))


def markdown_url(url: str) -> str | None:
    """An http(s) URL as a Markdown link destination (percent-encoded); None for other URLs."""
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    return quote(url, safe=":/?#@!$&'*+,;=%~")


def _notebook(cells: list[NotebookNode]) -> NotebookNode:
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index}"
    notebook = _v4().new_notebook(cells=cells)
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


@dataclass(frozen=True)
class NotebookStamps:
    """Which notebook files hold what their inputs make: per notebook, a small JSON file in
    `folder` with the inputs' key and the SHA-256 of the bytes made from them. A notebook whose
    key is unchanged and whose bytes are still those is not made again."""

    folder: Path

    def _stamp(self, notebook: Path) -> Path:
        where = hashlib.sha256(str(notebook.resolve()).encode()).hexdigest()[:16]
        return self.folder / f"{notebook.name}-{where}.json"

    def current(self, notebook: Path, key: str) -> bool:
        """Does `notebook` hold what the inputs of `key` make?"""
        try:
            stamp = json.loads(self._stamp(notebook).read_bytes())
            content = notebook.read_bytes()
        except (OSError, ValueError):
            return False
        return stamp == {"key": key, "sha256": hashlib.sha256(content).hexdigest()}

    def remember(self, notebook: Path, key: str, content: bytes) -> None:
        stamp = {"key": key, "sha256": hashlib.sha256(content).hexdigest()}
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self._stamp(notebook), json.dumps(stamp).encode())


@cache
def _maker_digest() -> bytes:
    """What turns inputs into notebooks: this engine's code and nbformat's version."""
    digest = hashlib.sha256(version("nbformat").encode())
    for module in sorted(Path(__file__).parents[1].rglob("*.py")):
        digest.update(module.read_bytes())
    return digest.digest()


def inputs_key(parts: Iterable[bytes]) -> str:
    """The key of a notebook made from `parts` by this engine."""
    digest = hashlib.sha256(_maker_digest())
    for part in parts:
        digest.update(hashlib.sha256(part).digest())  # hashes of parts: no ambiguous joins
    return digest.hexdigest()


def _run_inputs(run: SnippetRun | None) -> list[bytes]:
    """A run's notebook cells come from its snippet's text and its stored result, which carries
    the checksum of every file it names. OSError when there is no stored result."""
    if run is None or run.result is None:
        raise FileNotFoundError("no stored result")
    return [run.snippet.text.encode(), (run.folder / RESULT_FILE).read_bytes()]


def sync_snippet_notebook(run: SnippetRun, path: Path, stamps: NotebookStamps) -> None:
    """Make `path` hold the notebook of the run (unless it already does)."""
    key = inputs_key([b"run", *_run_inputs(run)])
    if stamps.current(path, key):
        return
    content = dumps(snippet_notebook(run)).encode()
    write_if_changed(path, content)
    stamps.remember(path, key, content)


def _post_key(post: Path, report: BuildReport, urls: tuple[str | None, ...]) -> str | None:
    """The key of the post's notebook; None when a snippet it uses has no stored result."""
    references = report.posts[post]
    runs = {embed.snippet.name: report.runs.get(embed.snippet) for embed in references.embeds}
    runs |= {
        name: report.snippet_named(name) for p in references.placeholders for name in p.snippets
    }
    parts = [b"post", references.text.encode(), *((url or "").encode() for url in urls)]
    parts.append(",".join(report.backends).encode())
    try:
        for name, run in sorted(runs.items()):
            parts += [name.encode(), *_run_inputs(run), _matrix_bytes(run)]
    except OSError:
        return None
    return inputs_key(parts)


def _matrix_bytes(run: SnippetRun | None) -> bytes:
    """The run's backend and seed matrix: a post's `| range` placeholders read it, so a new
    `make verify` changes the post's notebook as much as a new result does."""
    matrix = run.folder / MATRIX_FILE if run is not None else None
    return matrix.read_bytes() if matrix is not None and matrix.is_file() else b""


def sync_post_notebooks(
    report: BuildReport,
    folder: Path,
    write: bool,
    source_url: Callable[[Path], str | None],
    stamps: NotebookStamps,
    page_url: Callable[[Path], str | None] = lambda post: None,
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
        url, page = source_url(post), page_url(post)
        key = _post_key(post, report, (url, page))
        if key is None or not stamps.current(path, key):
            content = dumps(post_notebook(post, report, url, page)).encode()
            if write:
                write_if_changed(path, content)
            elif not path.is_file() or path.read_bytes() != content:
                errors.append(StaleNotebookError(_stale_message(path), Location(post), path))
                continue
            if key is not None:
                stamps.remember(path, key, content)
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


def stale_post_notebooks(report: BuildReport, root: Path, folder: Path) -> list[EngineError]:
    """The check a BLOG_EXECUTE=never build makes of the committed post notebooks, outside a
    build (`dlexec run`, `make ready`): nothing is written; the build's stamps are trusted."""
    from ..sources.site import mkdocs_settings
    from .site_pages import blob_url

    settings = mkdocs_settings(root)
    repo_url, extra = settings.get("repo_url"), settings.get("extra") or {}
    branch = extra.get("repo_branch", "main") if isinstance(extra, dict) else "main"

    def source_url(post: Path) -> str | None:  # as the site adapter links a post
        return blob_url(repo_url and str(repo_url), branch, post.relative_to(root).as_posix())

    stamps = NotebookStamps(root / ".cache" / "notebook-stamps")
    pages = page_urls(report, root)
    _, stale = sync_post_notebooks(report, folder, False, source_url, stamps, pages)
    return stale


def page_urls(report: BuildReport, root: Path) -> Callable[[Path], str | None]:
    """post -> its published address, as the blog publishes it (`site.post_page_url`)."""
    from ..sources.site import mkdocs_settings, post_page_url

    settings = mkdocs_settings(root)

    def page_url(post: Path) -> str | None:
        document = report.posts[post]
        return post_page_url(settings, document.meta, document.text)

    return page_url
