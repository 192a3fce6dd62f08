"""Backend tabs: under an embed, the outputs of its cells on each Keras backend, from that
backend's own run (the main result, and each backend's record of `make verify`).

The markup is Material's content tabs (`tabbed-set tabbed-alternate`, as `pymdownx.tabbed`
writes them), so Material's stylesheet draws them and its `content.tabs.link` feature links
them by label: choosing "JAX 0.10" once selects it in every tab set of the site, on this page
and the next. No script of ours. A tab's label names the backend and the version that ran.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import replace

from ..backends import BACKEND_NAMES, MAIN, Variant
from ..build.report import SnippetRun
from ..sources.snippets import Cell
from ..store.outputs import ErrorOutput
from ..store.records import VariantRecord
from ..store.results import Result
from .outputs_html import error_html

# (run, cells, last) -> the outputs' markup: `page.outputs_html` with the page's links
OutputsMarkup = Callable[[SnippetRun, list[Cell], bool], str]


def backend_label(backend: str, version: object) -> str:
    """'JAX 0.10': the backend and the major.minor version that ran (linked tabs match labels,
    so a patch release does not split a site's tabs)."""
    name = BACKEND_NAMES.get(backend, backend)
    parts = str(version or "").split(".")
    shown = ".".join(parts[:2]) if all(part.isdigit() for part in parts[:2]) else ""
    return f"{name} {shown}".rstrip()


def backend_tabs(
    run: SnippetRun,
    cells: list[Cell],
    records: Mapping[Variant, VariantRecord],
    backends: tuple[str, ...],
    outputs: OutputsMarkup,
    last: bool,
    tab_set: int,
) -> str:
    """The embed's outputs in one tab per backend, the main backend first and selected; just
    the main outputs when the project runs one backend or the main run failed."""
    main = outputs(run, cells, last)
    if run.result is None or run.status == "failed" or len(backends) < 2:
        return main
    tabs = [(backend_label(MAIN.backend, run.result.provenance.get(MAIN.backend)), main)]
    for backend in backends:
        if backend != MAIN.backend:
            record = records.get(Variant(backend))
            tabs.append(_variant_tab(run, cells, record, backend, outputs, last))
    return tab_set_html(tabs, tab_set)


def _variant_tab(
    run: SnippetRun,
    cells: list[Cell],
    record: VariantRecord | None,
    backend: str,
    outputs: OutputsMarkup,
    last: bool,
) -> tuple[str, str]:
    """(label, content) of one other backend's tab: its run's outputs, or why there are none."""
    name = BACKEND_NAMES.get(backend, backend)
    if record is None:
        return name, _note(f"Not run on {name} yet: make verify runs every snippet on it.")
    version = record.provenance.get(backend) or record.inputs.get("backend_version")
    label = backend_label(backend, version)
    if record.lacks_outputs:
        return label, _note(
            f"The {name} run was recorded before pages showed each backend's outputs: make "
            "verify runs it again."
        )
    shown = outputs(_as_run(run, record), cells, last)
    if not record.ok and not _raised_in(record, cells):  # it stopped in another cell
        shown += error_html(f"This run failed: {(record.error or 'failed').splitlines()[0]}")
    return label, shown


def _raised_in(record: VariantRecord, cells: list[Cell]) -> bool:
    """Does the record show its exception among the outputs of `cells`?"""
    indexes = {cell.index for cell in cells}
    return any(
        isinstance(output, ErrorOutput)
        for cell in record.cells
        if cell.index in indexes
        for output in cell.outputs
    )


def _as_run(run: SnippetRun, record: VariantRecord) -> SnippetRun:
    """The record as a run of the snippet: its outputs, values and provenance, the main run's
    folder (its files are stored there) and no link to the main run's page."""
    assert run.result is not None
    result = Result(
        snippet=run.result.snippet,
        key=record.key,
        inputs=record.inputs,
        provenance=record.provenance,
        cells=record.cells,
        values=record.values,
        files=record.files,
    )
    return replace(run, result=result, error=None, status="variant")


def _note(text: str) -> str:
    return f'<p class="dlexec-note">{html.escape(text)}</p>'


def tab_set_html(tabs: list[tuple[str, str]], tab_set: int) -> str:
    """Material's content tabs (alternate style) around `tabs` (label, content markup); the
    first is selected. Ids are the page's `tab_set` number and the tab's."""
    group = f"__tabbed_dlexec_{tab_set}"
    inputs = "".join(
        f'<input{" checked" if number == 1 else ""} id="{group}_{number}" name="{group}" '
        'type="radio">'
        for number in range(1, len(tabs) + 1)
    )
    labels = "".join(
        f'<label for="{group}_{number}">{html.escape(label)}</label>'
        for number, (label, _) in enumerate(tabs, 1)
    )
    blocks = "".join(f'<div class="tabbed-block">{content}</div>' for _, content in tabs)
    return (
        f'<div class="tabbed-set tabbed-alternate dlexec-backends" data-tabs="{tab_set}:'
        f'{len(tabs)}">{inputs}<div class="tabbed-labels">{labels}</div>'
        f'<div class="tabbed-content">{blocks}</div></div>'
    )
