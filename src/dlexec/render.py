"""Turn results into page content: the only module that produces markup.

Code goes into the Markdown as a fenced block (so the site's highlighter, copy button and line
numbers apply). Outputs are HTML built here with every piece of captured text escaped; they
enter the Markdown as marker comments and replace them after Markdown conversion, so no output
is ever interpreted as Markdown or HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from .capture import ErrorOutput, HistoryOutput, ImageOutput, Output, TextOutput
from .errors import EngineError
from .pipeline import BuildReport, SnippetRun
from .posts import EMBED, PLACEHOLDER, Placeholder, prose_lines
from .results import Result
from .snippets import Cell
from .values import format_value

AssetUrl = Callable[[Path, str], str]  # (result folder, file name) -> URL from the page
LONG_CODE_LINES = 15
MARKER = "<!-- dlexec-output {} -->"
MARKER_PATTERN = re.compile(r"(?:<p>)?<!-- dlexec-output (\d+) -->(?:</p>)?")


@dataclass
class RenderedPage:
    """Markdown with markers, and the HTML each marker stands for."""

    markdown: str
    fragments: list[str] = field(default_factory=list)

    def insert_fragments(self, page_html: str) -> str:
        """Replace the markers in converted HTML by their output fragments."""
        return MARKER_PATTERN.sub(lambda match: self.fragments[int(match[1])], page_html)


def render_page(
    markdown: str, post: Path, report: BuildReport, asset_url: AssetUrl
) -> RenderedPage:
    """Expand embeds and placeholders of one post's Markdown body."""
    page = RenderedPage(markdown="")
    lines = markdown.splitlines()
    prose = dict(prose_lines(markdown))
    for number, line in enumerate(lines, 1):
        if number not in prose:
            continue
        match = EMBED.match(line.strip())
        if match:
            lines[number - 1] = _embed(match, post, report, asset_url, page)
        else:
            expand = partial(_placeholder, post=post, line=number, report=report)
            lines[number - 1] = PLACEHOLDER.sub(expand, line)
    page.markdown = "\n".join(lines) + "\n"
    return page


def _embed(
    match: re.Match[str], post: Path, report: BuildReport, asset_url: AssetUrl, page: RenderedPage
) -> str:
    target = (post.parent / match["target"]).resolve()
    run = report.runs.get(target)
    cell_name = match["cell"]
    cell = run.snippet.cell(cell_name) if run and cell_name else None
    if run is None or (cell_name and cell is None):
        problem = _first_error(report, post) or f"cannot embed {match['target']}#{cell_name or ''}"
        return _marker(page, error_html(str(problem)))
    relative = run.result.snippet if run.result else match["target"]
    code = _code_block(run, cell, relative)
    cells = [cell] if cell else list(run.snippet.cells)
    return code + "\n\n" + _marker(page, outputs_html(run, cells, asset_url))


def _marker(page: RenderedPage, fragment: str) -> str:
    page.fragments.append(fragment)
    return MARKER.format(len(page.fragments) - 1)


def _first_error(report: BuildReport, post: Path) -> EngineError | None:
    return next((e for e in report.errors if e.location and e.location.path == post), None)


def _code_block(run: SnippetRun, cell: Cell | None, relative: str) -> str:
    """The code that ran, in a fence longer than any backtick run inside it."""
    source = cell.source if cell else run.snippet.text.rstrip("\n")
    first_line = cell.first_line if cell else 1
    fence = "`" * max(3, _longest_backtick_run(source) + 1)
    title = f"{relative} › {cell.name}" if cell and cell.name else relative
    options = f'title="{html.escape(title)}"'
    if source.count("\n") + 1 >= LONG_CODE_LINES:
        options += f' linenums="{first_line}"'
    return f"{fence}python {options}\n{source}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def outputs_html(run: SnippetRun, cells: list[Cell], asset_url: AssetUrl) -> str:
    """Outputs of `cells`, then the failure (if any) and the provenance line."""
    parts = []
    result = run.result
    if result is not None:
        by_index = {cell.index: cell for cell in result.cells}
        for cell in cells:
            stored = by_index.get(cell.index)
            parts += [
                output_html(output, run, asset_url) for output in (stored.outputs if stored else [])
            ]
    if run.error is not None:
        parts.append(error_html(str(run.error), getattr(run.error, "traceback", "")))
    if result is not None and run.status != "failed":
        parts.append(provenance_html(result))
    return '<div class="dlexec-outputs">\n' + "\n".join(parts) + "\n</div>"


def output_html(output: Output, run: SnippetRun, asset_url: AssetUrl) -> str:
    relative = run.result.snippet if run.result else run.snippet.name
    if isinstance(output, TextOutput):
        text = html.escape(output.text)
        return f'<pre class="dlexec-output dlexec-{output.stream}"><code>{text}</code></pre>'
    if isinstance(output, ImageOutput):
        size = f' width="{int(output.width)}"' if output.width else ""
        url = html.escape(asset_url(run.folder, output.file))
        alt = html.escape(f"Figure drawn by {relative}")
        return f'<p class="dlexec-figure"><img src="{url}" alt="{alt}"{size} loading="lazy"></p>'
    if isinstance(output, HistoryOutput):
        return history_html(output, run.folder, asset_url)
    if isinstance(output, ErrorOutput):
        return error_html(f"{output.ename}: {output.evalue}", output.traceback)
    raise TypeError(f"unknown output {output!r}")


def history_html(history: HistoryOutput, folder: Path, asset_url: AssetUrl) -> str:
    caption = html.escape(
        f"Training curves of model '{history.model}', {len(history.epochs)} epochs, "
        "drawn from the History that model.fit returned."
    )
    images = "".join(
        f'<img src="{html.escape(asset_url(folder, name))}#only-{palette}" '
        f'alt="{caption}" loading="lazy">'
        for palette, name in history.plots.items()
    )
    return f'<figure class="dlexec-curves">{images}<figcaption>{caption}</figcaption></figure>'


def error_html(message: str, traceback: str = "") -> str:
    body = f"<pre><code>{html.escape(traceback)}</code></pre>" if traceback else ""
    return (
        '<div class="admonition failure dlexec-error"><p class="admonition-title">'
        f"{html.escape(message)}</p>{body}</div>"
    )


def provenance_html(result: Result) -> str:
    info = result.provenance
    versions = f"TensorFlow {info.get('tensorflow', '?')} · Keras {info.get('keras', '?')}"
    text = (
        f"Ran on {info.get('device', '?')} · {versions} · {info.get('wall_time_s', '?')} s · "
        f"{info.get('date', '?')}"
    )
    return f'<p class="dlexec-provenance">{html.escape(text)}</p>'


def _placeholder(match: re.Match[str], *, post: Path, line: int, report: BuildReport) -> str:
    placeholder = Placeholder(
        post, line, match["snippet"], match["value"], (match["spec"] or "").strip(), match[0]
    )
    run = report.snippet_named(placeholder.snippet)
    if run is None or run.result is None:
        return f'<span class="dlexec-error">{html.escape(placeholder.text)}: no result</span>'
    try:
        return format_value(run.result.values, placeholder)
    except EngineError as error:
        return f'<span class="dlexec-error">{html.escape(str(error))}</span>'
