"""Turn results into page content: the only module that produces markup.

Code goes into the Markdown as a fenced block (so the site's highlighter, copy button and line
numbers apply). Outputs are HTML built here with every piece of captured text escaped; they
enter the Markdown as marker comments and replace them after Markdown conversion, so no output
is ever interpreted as Markdown or HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backends import BACKEND_NAMES, BACKENDS, MAIN, Variant
from ..build.report import BuildReport, SnippetRun
from ..errors import EngineError
from ..sources.expectations import NAME, Expectation, document_expectations, scope_text
from ..sources.posts import Embed, Placeholder, PostDocument
from ..sources.snippets import Cell
from ..sources.values import format_value, join_range
from ..store.outputs import ErrorOutput, HistoryOutput, ImageOutput, Output, TextOutput
from ..store.records import VariantRecord
from ..store.results import Result
from .outputs_html import (
    Links,
    cell_times_html,
    error_html,
    history_html,
    provenance_html,
    text_html,
    zoomable,
)
from .spread import claims_html, seed_numbers, spread_text
from .tabs import backend_tabs

LONG_CODE_LINES = 15  # code blocks this long get line numbers
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


@dataclass(frozen=True)
class Headline:
    """A value of a snippet that the post shows in its prose or states a claim about: shown
    under the snippet's last output on every backend and across seeds (`make verify`)."""

    value: str
    spec: str = ""  # the post's placeholder format ('' for a claim's value: `.4g`)
    note: str = ""  # a claim narrowed to some runs: where it holds, and why
    claimed: bool = False  # a claim compares it (else only the prose shows it)


def render_page(document: PostDocument, report: BuildReport, links: Links) -> RenderedPage:
    """The post's Markdown body with its embeds and placeholders expanded, from the document
    the build parsed (errors name file lines)."""
    page = RenderedPage(markdown="")
    last_embeds = {embed.snippet: embed.line for embed in document.embeds}  # later ones win
    headlines = headline_values(document.post, report)
    lines = []
    for number, line, embed, placeholders in document.body():
        if embed:
            last = last_embeds[embed.snippet] == number
            line = _embed(embed, report, links, page, last, headlines)
        lines.append(expand_placeholders(line, placeholders, report))
    page.markdown = "\n".join(lines) + "\n"
    return page


def resolve_embed(embed: Embed, report: BuildReport) -> tuple[SnippetRun | None, list[Cell]]:
    """The run an embed shows and the cells it covers (all of them without a #cell)."""
    run = report.runs.get(embed.snippet)
    if run is None:
        return None, []
    if embed.cell:
        cell = run.snippet.cell(embed.cell)
        return (run, [cell]) if cell else (None, [])
    return run, list(run.snippet.cells)


def expand_placeholders(line: str, placeholders: Iterable[Placeholder], report: BuildReport) -> str:
    """`line` with each of its placeholders (found by the post's parse: none in code spans or
    HTML comments) replaced by its formatted value."""
    for placeholder in sorted(placeholders, key=lambda p: p.column, reverse=True):
        start, end = placeholder.column, placeholder.column + len(placeholder.text)
        line = line[:start] + _placeholder(placeholder, report) + line[end:]
    return line


def _embed(
    embed: Embed,
    report: BuildReport,
    links: Links,
    page: RenderedPage,
    last: bool,
    headlines: Mapping[str, list[Headline]],
) -> str:
    """The embed's code and outputs; the snippet's last embed in the post also says where and
    how it ran (provenance, the backend and seed matrix), once for all its embeds."""
    run, cells = resolve_embed(embed, report)
    if run is None:
        problem = _first_error(report, embed.post)
        shown = problem.shown(report.root) if problem else f"cannot embed {embed.target}"
        return _marker(page, error_html(shown))
    relative = run.result.snippet if run.result else embed.target
    code = code_block(run, cells[0] if embed.cell else None, relative)
    fragment = backend_tabs(
        run,
        cells,
        report.matrix(run),
        report.backends,
        lambda shown, cells, last: outputs_html(shown, cells, links, last),
        last,
        tab_set=len(page.fragments) + 1,
    )
    if last and run.result is not None and run.status != "failed":
        fragment += matrix_html(run, headlines.get(run.snippet.name, []), report.matrix(run))
        fragment += claims_html(_claims_about(run.snippet.name, embed.post, report), report)
    return code + "\n\n" + _marker(page, fragment)


def _claims_about(snippet: str, post: Path, report: BuildReport) -> list[Expectation]:
    """The post's claims whose subject is a value of `snippet`."""
    document = report.posts.get(post)
    try:
        claims = document_expectations(document) if document else []
    except EngineError:
        return []  # reported by the checks; the page still renders
    return [claim for claim in claims if claim.subject.split(".", 1)[0] == snippet]


def headline_values(post: Path, report: BuildReport) -> dict[str, list[Headline]]:
    """Snippet name -> the values of it that the post shows or makes claims about."""
    found: dict[str, dict[str, Headline]] = {}
    references = report.posts.get(post)
    for placeholder in references.placeholders if references else ():
        found.setdefault(placeholder.snippet, {}).setdefault(
            placeholder.value, Headline(placeholder.value, placeholder.spec)
        )
    try:
        claims = document_expectations(references) if references else []
    except EngineError:
        claims = []  # reported by the checks; the page still renders
    for claim in claims:
        for name in (claim.subject, claim.operand):
            if not NAME.match(name):
                continue
            snippet, value = name.split(".", 1)
            shown = found.setdefault(snippet, {}).get(value, Headline(value))
            note = shown.note
            if name == claim.subject and claim.scope.narrowed:
                note = f"claimed {scope_text(claim)} only: {claim.scope.reason}"
            found[snippet][value] = Headline(value, shown.spec, note, claimed=True)
    return {snippet: list(values.values()) for snippet, values in found.items()}


def matrix_html(
    run: SnippetRun, headlines: list[Headline], records: Mapping[Variant, VariantRecord]
) -> str:
    """Each headline value on every backend and its spread across seeds, from the committed
    matrix (`make verify`); nothing when the snippet has no headline values."""
    if not headlines or run.result is None:
        return ""
    varying = [h for h in headlines if h.claimed or _varies(h.value, run.result, records)]
    if not varying:
        return ""
    rows = [_matrix_row(headline, run.result, records) for headline in varying]
    return (
        '<div class="dlexec-matrix"><p>The same code on each Keras backend, and with other '
        "seeds (<code>make verify</code>):</p><ul>" + "".join(rows) + "</ul></div>"
    )


def _varies(value: str, main: Result, records: Mapping[Variant, VariantRecord]) -> bool:
    """Does `value` differ between runs? (A setting or a dataset size does not: not shown.)"""
    seen = {repr(main.values.get(value))}
    seen |= {repr(r.values.get(value)) for r in records.values() if r.ok}
    return len(seen) > 1


def _matrix_row(headline: Headline, main: Result, records: Mapping[Variant, VariantRecord]) -> str:
    def shown(value: Any) -> str:
        return _formatted(value, headline.spec)

    parts = []
    for backend in BACKENDS:
        variant = Variant(backend)
        name = BACKEND_NAMES[backend]
        if variant == MAIN:
            value = main.values.get(headline.value)
            parts.append(f"{shown(value)} on {name}")
            continue
        record = records.get(variant)
        if record is None:
            parts.append(f"not yet run on {name}")
        elif not record.ok:
            first = (record.error or "").strip().splitlines()[:1]
            reason = f" ({first[0][:120]})" if first else ""
            parts.append(f"fails on {name}{html.escape(reason)}")
        else:
            parts.append(f"{shown(record.values.get(headline.value))} on {name}")
    numbers = list(seed_numbers(main, records, headline.value).values())
    spread = ""
    if len(numbers) > 1:
        spread = f"; {len(numbers)} seeds: {_range_text(min(numbers), max(numbers), headline.spec)}"
    note = f" <em>{html.escape(headline.note)}</em>" if headline.note else ""
    return f"<li><code>{html.escape(headline.value)}</code>: {' · '.join(parts)}{spread}{note}</li>"


def _formatted(value: Any, spec: str) -> str:
    if value is None:
        return "(no value)"
    spec = spec or (".4g" if isinstance(value, float) else "")
    try:
        return html.escape(format(value, spec))
    except (TypeError, ValueError):
        return html.escape(repr(value))


def _range_text(low: Any, high: Any, spec: str) -> str:
    return join_range(_formatted(low, spec), _formatted(high, spec))


def _marker(page: RenderedPage, fragment: str) -> str:
    page.fragments.append(fragment)
    return MARKER.format(len(page.fragments) - 1)


def _first_error(report: BuildReport, post: Path) -> EngineError | None:
    return next((e for e in report.errors if e.location and e.location.path == post), None)


def code_block(run: SnippetRun, cell: Cell | None, relative: str) -> str:
    """The code that ran, in a fence longer than any backtick run inside it. A whole snippet
    shows the program a reader would copy: its cells without the header the engine reads and
    the `# %%` cell markers (the notebook leaves those out too)."""
    source = cell.source if cell else program_text(run.snippet.cells)
    fence = "`" * max(3, _longest_backtick_run(source) + 1)
    title = f"{relative} › {cell.name}" if cell and cell.name else relative
    options = f'title="{html.escape(title)}"'
    if source.count("\n") + 1 >= LONG_CODE_LINES:
        options += ' linenums="1"'
    return f"{fence}python {options}\n{source}\n{fence}"


def program_text(cells: tuple[Cell, ...] | list[Cell]) -> str:
    """The cells' code as one program, a blank line between cells."""
    return "\n\n".join(cell.source.strip("\n") for cell in cells if cell.source.strip())


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def outputs_html(run: SnippetRun, cells: list[Cell], links: Links, last: bool = True) -> str:
    """Outputs of `cells`, then the failure (if any), how long they ran when that was long,
    and (`last`: at the snippet's last embed) the provenance line."""
    parts = []
    result = run.result
    if result is not None:
        by_index = {cell.index: cell for cell in result.cells}
        for cell in cells:
            stored = by_index.get(cell.index)
            parts += [output_html(o, run, links) for o in (stored.outputs if stored else [])]
    if run.error is not None:
        parts.append(error_html(str(run.error), getattr(run.error, "traceback", "")))
    if result is not None and run.status != "failed":
        parts.append(cell_times_html(result, cells))
        if last:  # a backend tab's run has no page of its own: the full run is the main one
            page = links.run_page(run) if run.status != "variant" else None
            parts.append(provenance_html(result, page))
    return '<div class="dlexec-outputs">\n' + "\n".join(p for p in parts if p) + "\n</div>"


def output_html(output: Output, run: SnippetRun, links: Links) -> str:
    relative = run.result.snippet if run.result else run.snippet.name
    if isinstance(output, TextOutput):
        return text_html(output)
    if isinstance(output, ImageOutput):
        size = f' width="{int(output.width)}"' if output.width else ""
        url = html.escape(links.asset(run.folder, output.file))
        alt = html.escape(f"Figure drawn by {relative}")
        image = f'<img src="{url}" alt="{alt}"{size} loading="lazy">'
        return f'<p class="dlexec-figure">{zoomable(url, image)}</p>'
    if isinstance(output, HistoryOutput):
        return history_html(output, run.folder, links)
    if isinstance(output, ErrorOutput):
        return error_html(f"{output.ename}: {output.evalue}", output.traceback)
    raise TypeError(f"unknown output {output!r}")


def notebook_buttons(download_url: str, colab_url: str | None) -> str:
    """Markdown for the post's notebook links (Material button styles via attr_list)."""
    name = html.escape(download_url.rsplit("/", 1)[-1])
    buttons = f'[Download notebook]({download_url}){{ .md-button download="{name}" }}'
    if colab_url:
        buttons += f" [Open in Colab]({colab_url}){{ .md-button }}"
    return f'<div class="dlexec-notebook" markdown>\n{buttons}\n</div>'


def _placeholder(placeholder: Placeholder, report: BuildReport) -> str:
    runs = [report.snippet_named(name) for name in placeholder.snippets]
    if any(run is None or run.result is None for run in runs):
        return f'<span class="dlexec-error">{html.escape(placeholder.text)}: no result</span>'
    try:
        shown = format_value(runs[0].result.values, placeholder, runs[-1].result.values)
        if placeholder.filter:
            shown = spread_text(placeholder, report)
    except EngineError as error:
        return f'<span class="dlexec-error">{html.escape(error.shown(report.root))}</span>'
    return shown
