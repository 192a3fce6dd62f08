"""Rendering: code that ran, outputs escaped, markers replaced after Markdown."""

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import render

from dlexec.build.report import BuildReport, SnippetRun
from dlexec.errors import AuthoringError, Location
from dlexec.present.outputs_html import Links, text_html
from dlexec.sources.posts import read_document
from dlexec.sources.snippets import load_snippet
from dlexec.sources.values import format_value
from dlexec.store.outputs import ErrorOutput, HistoryOutput, TextOutput
from dlexec.store.results import CellResult, Result

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def report_for(tmp_path: Path) -> tuple[BuildReport, Path]:
    snippets = tmp_path / "snippets"
    snippets.mkdir()
    path = snippets / "s.py"
    path.write_text("# %% a\nprint('```')\n")
    snippet = load_snippet(path)
    result = Result(
        snippet="snippets/s.py",
        key="k",
        inputs={},
        provenance={
            "device": "CPU (2 cores)",
            "tensorflow": "2.21.0",
            "keras": "3.15.1",
            "wall_time_s": 1.5,
            "date": "2026-11-21 10:00 UTC",
        },
        cells=[
            CellResult(
                0,
                "a",
                [
                    TextOutput("stdout", HOSTILE),
                    ErrorOutput("ValueError", HOSTILE, HOSTILE),
                    HistoryOutput(
                        HOSTILE,
                        [1],
                        {"loss": [1.0]},
                        {"0/light": "c-0-light.svg", "0/dark": "c-0-dark.svg", "card": "c.svg"},
                    ),
                ],
            )
        ],
        values={"name": HOSTILE, "accuracy": 0.98765},
    )
    report = BuildReport(
        runs={path: SnippetRun(snippet, "reused", tmp_path / "results" / "s", result)},
        root=tmp_path,
    )
    (tmp_path / "posts").mkdir()
    return report, tmp_path / "posts" / "p.md"


def test_hostile_output_is_escaped(tmp_path):
    report, post = report_for(tmp_path)
    page = render(
        "[x](../snippets/s.py#a)\n", post, report, Links(lambda folder, name: f"assets/{name}")
    )
    html = page.insert_fragments(page.markdown)
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_code_fence_is_longer_than_backticks_in_code_and_provenance_shown(tmp_path):
    report, post = report_for(tmp_path)
    page = render("[x](../snippets/s.py#a)\n", post, report, Links(lambda folder, name: name))
    assert page.markdown.startswith("````python title=\"snippets/s.py › a\"\nprint('```')\n````")
    html = page.insert_fragments(page.markdown)
    assert (
        "Ran on CPU (2 cores) · TensorFlow 2.21.0 · Keras 3.15.1 · 1.5 s · 2026-11-21 10:00 UTC"
        in html
    )
    assert 'src="c-0-light.svg#only-light"' in html and 'src="c-0-dark.svg#only-dark"' in html


def test_placeholders_are_formatted_and_escaped(tmp_path):
    report, post = report_for(tmp_path)
    page = render(
        "A {{ s.accuracy:.1% }} B {{ s.name }}\n", post, report, Links(lambda folder, name: name)
    )
    assert page.markdown.startswith("A 98.8% B &#60;script&#62;")


def keras_log(epochs: int, between: str = "") -> str:
    """What model.fit prints (cleaned of timings), with `between` printed after epoch 3."""
    lines = []
    for i in range(1, epochs + 1):
        lines.append(f"Epoch {i}/{epochs}\n")
        lines.append(
            f"225/225 ━━━━━━━━━━━━━━━━━━━━ - accuracy: 0.{9000 + i} - loss: 0.{100 + i:04d}"
            f" - val_accuracy: 0.{8000 + i} - val_loss: 0.{200 + i:04d}\n"
        )
        if i == 3 and between:
            lines.append(between)
    return "".join(lines)


def test_epochs_become_a_table_of_their_numbers_with_the_raw_log_one_click_away():
    from bs4 import BeautifulSoup

    html = text_html(TextOutput("stdout", "train: (8000, 28, 28)\n" + keras_log(4)))
    soup = BeautifulSoup(html, "html.parser")
    assert soup.select("pre")[0].get_text() == "train: (8000, 28, 28)\n"  # printed lines stay
    [table] = soup.select("table.dlexec-epochs")
    heads = [th.get_text() for th in table.select("th")]
    assert heads == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    rows = [[td.get_text() for td in tr.select("td")] for tr in table.select("tbody tr")]
    assert rows[-1] == ["4", "0.9004", "0.0104", "0.8004", "0.0204"] and len(rows) == 4
    raw = soup.select_one("details.dlexec-fold pre").get_text()
    assert raw == keras_log(4)  # exactly as printed


def test_many_epochs_fold_by_epoch_and_never_hide_other_printed_lines():
    from bs4 import BeautifulSoup

    html = text_html(TextOutput("stdout", keras_log(20, between="checkpoint saved\n")))
    soup = BeautifulSoup(html, "html.parser")
    # The print after epoch 3 splits the run: epochs 1-3, the line (visible), epochs 4-20.
    visible = [pre.get_text() for pre in soup.find_all("pre") if not pre.find_parent("details")]
    assert visible == ["checkpoint saved\n"]
    tables = soup.find_all("table", class_="dlexec-epochs")
    shown = [t for t in tables if not t.find_parent("details")]
    folded = [t for t in tables if t.find_parent("details")]
    first = [tr.td.get_text() for tr in shown[0].select("tbody tr")]
    last = [tr.td.get_text() for tr in shown[1].select("tbody tr")]
    assert first == ["1", "2", "3"] and last == ["16", "17", "18", "19", "20"]
    assert [tr.td.get_text() for tr in folded[0].select("tbody tr")] == [
        str(i) for i in range(4, 16)
    ]
    assert "epochs 4–15 of 20" in folded[0].find_parent("details").summary.get_text()


def test_long_text_folds_but_a_displayed_value_stays_whole():
    text = "".join(f"line {i}\n" for i in range(100))
    html = text_html(TextOutput("stdout", text))
    earlier, visible = html.split("</details>")
    assert "80 earlier lines" in earlier and "line 79\n" in earlier
    assert "line 80\n" in visible and "line 99" in visible and "line 79\n" not in visible
    table = "".join(f"row {i}\n" for i in range(100))
    assert "<details" not in text_html(TextOutput("result", table))  # model.summary() stays whole


def test_provenance_names_the_backend_that_ran():
    from dlexec.present.outputs_html import provenance_text
    from dlexec.store.results import Result

    info = {"backend": "jax", "jax": "0.10.2", "keras": "3.15.1", "device": "GPU NVIDIA H100"}
    text = provenance_text(Result("s.py", "k", {}, {**info, "wall_time_s": 3.2, "date": "d"}, []))
    assert text == "Ran on GPU NVIDIA H100 · JAX 0.10.2 · Keras 3.15.1 · 3.2 s · d"


# -- the backend and seed matrix under a snippet's outputs ---------------------------------------


def matrix_report(tmp_path: Path) -> tuple[BuildReport, Path]:
    """A post whose prose shows s.accuracy as a percentage and claims it, with a recorded
    matrix: JAX and one more seed ran, PyTorch failed."""
    from dlexec.backends import Variant
    from dlexec.sources.posts import read_document
    from dlexec.store.records import VariantRecord, store_record

    report, post = report_for(tmp_path)
    post.write_text(
        '---\ndate: 2026-01-01\nexpect:\n  s.accuracy: ">= 0.9"\n---\n# P\n\n'
        "It scores {{ s.accuracy:.1% }} ({{ s.accuracy:.1% | range }} over seeds) "
        "in {{ s.epochs }} epochs.\n\n[x](../snippets/s.py#a)\n"
    )
    [(path, run)] = report.runs.items()
    values = {**run.result.values, "epochs": 5}
    run = SnippetRun(run.snippet, "reused", run.folder, replace(run.result, values=values))
    report.runs[path] = run
    inputs = {"backend": "x"}
    for variant, values, error in (
        (Variant("jax"), {"accuracy": 0.97, "epochs": 5}, None),
        (Variant("torch"), {}, "RuntimeError: no kernel for <op>\ntraceback"),
        (Variant("tensorflow", 1), {"accuracy": 0.99, "epochs": 5}, None),
    ):
        record = VariantRecord(variant, "v", inputs, values=values, error=error)
        store_record(run.folder, record, tmp_path / "locks")
    report.posts[post] = read_document(post, tmp_path / "snippets")
    return report, post


def test_each_headline_value_is_shown_on_every_backend_with_its_seed_spread(tmp_path: Path):
    report, post = matrix_report(tmp_path)
    page = render(post.read_text(), post, report, Links(lambda folder, name: name))
    html_out = page.insert_fragments(page.markdown)
    assert "It scores 98.8% (98.8\N{EN DASH}99.0% over seeds) in 5 epochs." in page.markdown
    [row] = html_out.split("<li>")[1:2]  # epochs is the same on every run: not listed
    assert "<code>accuracy</code>: 98.8% on TensorFlow · 97.0% on JAX · fails on PyTorch" in row
    assert "(RuntimeError: no kernel for &lt;op&gt;)" in row  # the first line, escaped
    assert "2 seeds: 98.8\N{EN DASH}99.0%" in row


def test_a_range_without_recorded_seeds_says_to_run_make_verify(tmp_path: Path):
    report, post = report_for(tmp_path)
    page = render("It scores {{ s.accuracy:.1% | range }}.\n", post, report, Links(lambda f, n: n))
    assert "no other seeds are recorded for s; run `make verify`" in page.markdown
    # Where: the post's path in the project, not the build machine's folders (it is public).
    assert "posts/p.md:1: placeholder" in page.markdown and str(tmp_path) not in page.markdown


def test_an_embed_that_cannot_be_shown_names_the_post_in_the_project(tmp_path: Path):
    report, post = report_for(tmp_path)
    report.errors.append(AuthoringError("snippet s.py has no cell named 'b'", Location(post, 1)))
    page = render("[x](../snippets/s.py#b)\n", post, report, Links(lambda f, n: n))
    shown = page.insert_fragments(page.markdown)
    assert "posts/p.md:1: snippet s.py has no cell named" in shown
    assert str(tmp_path) not in shown


def test_a_claim_narrowed_to_some_runs_shows_its_reason(tmp_path: Path):
    report, post = matrix_report(tmp_path)
    post.write_text(
        '---\ndate: 2026-01-01\nexpect:\n  s.accuracy:\n    claim: ">= 0.98"\n'
        '    backends: [tensorflow]\n    reason: "JAX\'s kernels <differ>"\n---\n# P\n\n'
        "[x](../snippets/s.py#a)\n"
    )
    report.posts[post] = read_document(post, tmp_path / "snippets")  # as the build reads it
    page = render("[x](../snippets/s.py#a)\n", post, report, Links(lambda f, n: n))
    html_out = page.insert_fragments(page.markdown)
    assert "<em>claimed on TensorFlow only: JAX&#x27;s kernels &lt;differ&gt;</em>" in html_out


# -- embeds: the program a reader copies, provenance once, long cells timed ----------------------


def two_cell_report(tmp_path: Path) -> tuple[BuildReport, Path]:
    """s.py with a header and two named cells; 'train' ran 42.5 s."""
    snippets = tmp_path / "snippets"
    snippets.mkdir()
    path = snippets / "s.py"
    path.write_text(
        "# ---\n# data: []\n# ---\n\n# %% load\nx = 1\n\n# %% train\nprint(x)\n",
    )
    provenance = {
        "device": "CPU",
        "wall_time_s": 43.0,
        "date": "d",
        "cell_wall_time_s": [0.5, 42.5],
    }
    cells = [CellResult(0, "load", []), CellResult(1, "train", [TextOutput("stdout", "1\n")])]
    result = Result("snippets/s.py", "k", {}, provenance, cells)
    report = BuildReport(
        runs={path: SnippetRun(load_snippet(path), "reused", tmp_path / "r", result)}
    )
    (tmp_path / "posts").mkdir()
    return report, tmp_path / "posts" / "p.md"


def test_a_whole_snippet_shows_the_program_without_header_or_cell_markers(tmp_path):
    report, post = two_cell_report(tmp_path)
    page = render("[s](../snippets/s.py)\n", post, report, Links(lambda f, n: n))
    code = page.markdown.split("```")[1]
    assert code == 'python title="snippets/s.py"\nx = 1\n\nprint(x)\n'
    assert "# ---" not in page.markdown and "# %%" not in page.markdown


def test_provenance_once_per_snippet_and_long_cells_say_how_long_they_ran(tmp_path):
    report, post = two_cell_report(tmp_path)
    markdown = "[a](../snippets/s.py#load)\n\nText.\n\n[b](../snippets/s.py#train)\n"
    page = render(markdown, post, report, Links(lambda f, n: n))
    first, second = page.fragments
    assert "dlexec-provenance" not in first and "dlexec-timing" not in first  # 0.5 s: not long
    assert second.count('class="dlexec-provenance"') == 1 and "43.0 s" in second
    assert "This cell ran 42.5 s." in second
    whole = render("[s](../snippets/s.py)\n", post, report, Links(lambda f, n: n))
    assert "Cells that ran long: train 42.5 s." in whole.fragments[0]


def test_curves_are_one_zoomable_panel_per_metric_in_both_palettes(tmp_path):
    from bs4 import BeautifulSoup

    from dlexec.present.outputs_html import history_html

    history = HistoryOutput(
        "m",
        [1, 2],
        {"loss": [1.0, 0.5], "val_loss": [0.9, 0.7]},
        {"0/light": "c-0-light.svg", "0/dark": "c-0-dark.svg", "card": "c-card.svg"},
    )
    soup = BeautifulSoup(history_html(history, tmp_path, Links(lambda f, n: n)), "html.parser")
    links = soup.select("figure.dlexec-curves .dlexec-panel a.glightbox")
    assert [a["href"] for a in links] == ["c-0-light.svg#only-light", "c-0-dark.svg#only-dark"]
    assert [a.img["src"] for a in links] == [a["href"] for a in links]
    assert links[0].img["alt"] == (
        "loss per epoch of model 'm', training and validation; best validation loss 0.7 at epoch 2."
    )
    assert "c-card.svg" not in str(soup)  # the card is the notebooks' figure


def test_log_segments_join_back_to_the_printed_text():
    from dlexec.present.logs import EpochRun, segments

    text = "start\n" + keras_log(3) + "Epoch 9/9\nnot a progress line\n" + keras_log(2)
    parts = segments(text)
    assert "".join(p.text if isinstance(p, EpochRun) else p for p in parts) == text
    runs = [p for p in parts if isinstance(p, EpochRun)]
    assert [len(r.epochs) for r in runs] == [3, 2]  # a new fit (epochs restart) is a new table


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (">100000000", "format width 100000000 is more than 100"),
        (".300000000f", "format precision 300000000 is more than 30"),
        ("." + "9" * 5000 + "f", "format precision 999999999999... (5000 digits) is more than 30"),
        ("0101d", "format width 101 is more than 100"),
    ],
)
def test_a_huge_width_or_precision_is_refused_at_the_placeholders_line(
    tmp_path, spec: str, problem: str
):
    """A width or precision in the hundreds of millions once built for a minute, used
    gigabytes and wrote a 100 MB page: refused at once, naming the post and line (the page
    shows the error where the value would be; the engine's check fails the build)."""
    report, post = report_for(tmp_path)
    [placeholder] = read_document_in(post, f"Intro.\n\nA {{{{ s.accuracy:{spec} }}}}\n")
    with pytest.raises(AuthoringError) as refused:
        format_value(report.snippet_named("s").result.values, placeholder)
    assert str(refused.value).startswith(f"{post}:3: placeholder {{{{ s.accuracy:")
    assert str(refused.value).endswith(problem)
    page = render(f"A {{{{ s.accuracy:{spec} }}}}\n", post, report, Links(str))
    assert 'class="dlexec-error"' in page.markdown and len(page.markdown) < 400


def read_document_in(post: Path, text: str):
    from dlexec.sources.posts import read_document

    post.write_text(text)
    return read_document(post, post.parent.parent / "snippets").placeholders


def test_ordinary_specs_still_format(tmp_path):
    report, post = report_for(tmp_path)
    page = render("{{ s.accuracy:>12.30f }} {{ s.accuracy:0100.1% }}\n", post, report, Links(str))
    wide, padded = page.markdown.split()
    assert wide.startswith("0.98765") and len(wide) == 32
    assert padded.endswith("98.8%") and len(padded) == 100


def test_a_placeholder_in_a_code_span_stays_and_its_twin_in_prose_is_expanded(tmp_path):
    """The page replaces each placeholder where the post's parse found it (by column), not
    the first text that looks like it: the code span shows the syntax a reader copies."""
    report, post = report_for(tmp_path)
    page = render(
        "Write `{{ s.accuracy:.1% }}` for {{ s.accuracy:.1% }}.\n", post, report, Links(str)
    )
    assert page.markdown == "Write `{{ s.accuracy:.1% }}` for 98.8%.\n"


def test_provenance_states_the_math_threads_and_determinism_a_run_used(tmp_path):
    from dlexec.present.outputs_html import provenance_text

    report, _ = report_for(tmp_path)
    result = next(iter(report.runs.values())).result
    info = {**result.provenance, "device": "CPU (1 core)"}
    run = replace(result, provenance={**info, "math_threads": "1", "deterministic_ops": "on"})
    assert provenance_text(run).startswith(
        "Ran on CPU (1 core) · 1 math thread, deterministic ops on · TensorFlow 2.21.0"
    )
    assert provenance_text(replace(result, provenance=info)).startswith(
        "Ran on CPU (1 core) · TensorFlow"  # a result made before the engine recorded them
    )
