"""Backend tabs: under every embed, that cell's outputs on each Keras backend from that
backend's own run, in Material's content tabs labelled with the backend and its version."""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup
from conftest import render

from dlexec.backends import Variant
from dlexec.build.report import BuildReport, SnippetRun
from dlexec.present.outputs_html import Links
from dlexec.present.tabs import backend_label
from dlexec.sources.snippets import load_snippet
from dlexec.store.outputs import ErrorOutput, TextOutput
from dlexec.store.records import VariantRecord, store_record
from dlexec.store.results import CellResult, Result

SNIPPET = "# %% load\nx = 1\n\n# %% train\nprint(x)\n"


def provenance(backend: str, version: str) -> dict[str, object]:
    return {"backend": backend, backend: version, "keras": "3.15.1", "device": "CPU"}


def report_with(tmp_path: Path, records: list[VariantRecord]) -> tuple[BuildReport, Path]:
    """Snippet s (cells load, train) run on TensorFlow, with `records` stored beside it."""
    (tmp_path / "snippets").mkdir()
    (tmp_path / "posts").mkdir()
    path = tmp_path / "snippets" / "s.py"
    path.write_text(SNIPPET)
    cells = [CellResult(0, "load", []), CellResult(1, "train", [TextOutput("stdout", "tf 1\n")])]
    result = Result("snippets/s.py", "k", {}, provenance("tensorflow", "2.21.0"), cells)
    run = SnippetRun(load_snippet(path), "reused", tmp_path / "results" / "s", result)
    for record in records:
        store_record(run.folder, record, tmp_path / "locks")
    return BuildReport(runs={path: run}), tmp_path / "posts" / "p.md"


def tab_sets(markdown: str, report: BuildReport, post: Path) -> list[dict[str, str]]:
    """Each tab set of the page: label -> the text its tab shows."""
    links = Links(lambda folder, name: name, run_page=lambda run: "runs/s/")
    page = render(markdown, post, report, links)
    soup = BeautifulSoup("".join(page.fragments), "html.parser")
    found = []
    for tab_set in soup.select("div.tabbed-set"):
        labels = [label.get_text() for label in tab_set.select(".tabbed-labels > label")]
        blocks = [block.get_text(" ") for block in tab_set.select(".tabbed-content > div")]
        inputs = tab_set.select(":scope > input[type=radio]")
        assert [i.has_attr("checked") for i in inputs] == [True] + [False] * (len(labels) - 1)
        assert {i["name"] for i in inputs} == {inputs[0]["name"]}
        found.append(dict(zip(labels, blocks, strict=True)))
    return found


def test_each_backend_shows_its_own_run_of_the_cell(tmp_path: Path):
    jax = VariantRecord(
        Variant("jax"),
        "j",
        {},
        provenance=provenance("jax", "0.10.2"),
        cells=[
            CellResult(0, "load", []),
            CellResult(1, "train", [TextOutput("stdout", "jax 1\n")]),
        ],
    )
    torch = VariantRecord(
        Variant("torch"),
        "t",
        {},
        provenance=provenance("torch", "2.13.0+cpu"),
        error="snippets/s.py:5: snippet failed: RuntimeError: no kernel",
        cells=[
            CellResult(0, "load", [ErrorOutput("RuntimeError", "no kernel", "Traceback ...")]),
            CellResult(1, "train", []),
        ],
    )
    seed = VariantRecord(Variant("tensorflow", 1), "s", {}, values={"x": 1})
    report, post = report_with(tmp_path, [jax, torch, seed])
    markdown = "[a](../snippets/s.py#load)\n\n[b](../snippets/s.py#train)\n"
    first, second = tab_sets(markdown, report, post)
    assert list(second) == ["TensorFlow 2.21", "JAX 0.10", "PyTorch 2.13"]
    assert "tf 1" in second["TensorFlow 2.21"] and "jax 1" not in second["TensorFlow 2.21"]
    assert "jax 1" in second["JAX 0.10"] and "JAX 0.10.2" in second["JAX 0.10"]  # provenance
    assert "view the full run" in second["TensorFlow 2.21"]  # the main run's page: not JAX's
    assert "view the full run" not in second["JAX 0.10"]
    # PyTorch raised in cell load: that tab shows the traceback; cell train says the run failed.
    assert "RuntimeError: no kernel" in first["PyTorch 2.13"]
    assert "This run failed" in second["PyTorch 2.13"] and "no kernel" in second["PyTorch 2.13"]
    assert "tf 1" not in first["TensorFlow 2.21"]  # each tab shows the embed's cell only


def test_a_backend_not_yet_run_or_recorded_without_outputs_says_so(tmp_path: Path):
    old = VariantRecord(Variant("jax"), "j", {"backend_version": "0.10.2"}, values={"x": 1})
    report, post = report_with(tmp_path, [old])
    [tabs] = tab_sets("[s](../snippets/s.py)\n", report, post)
    assert "make verify runs it again" in tabs["JAX 0.10"]
    assert "Not run on PyTorch yet" in tabs["PyTorch"]


def test_a_project_on_one_backend_has_no_tabs(tmp_path: Path):
    report, post = report_with(tmp_path, [])
    report.backends = ("tensorflow",)
    assert tab_sets("[s](../snippets/s.py)\n", report, post) == []


def test_a_label_shows_only_the_major_and_minor_version_it_can_read():
    assert backend_label("torch", "2.13.0+cpu") == "PyTorch 2.13"
    assert backend_label("jax", '<img src=x onerror="alert(1)">') == "JAX"
    assert backend_label("jax", None) == "JAX"
