"""Rendering: code that ran, outputs escaped, markers replaced after Markdown."""

from dataclasses import replace
from pathlib import Path

from dlexec.outputs import ErrorOutput, HistoryOutput, TextOutput
from dlexec.pipeline import BuildReport, SnippetRun
from dlexec.render import Links, render_page, text_html
from dlexec.results import CellResult, Result
from dlexec.snippets import load_snippet

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
                        {"light": "c-light.svg", "dark": "c-dark.svg"},
                    ),
                ],
            )
        ],
        values={"name": HOSTILE, "accuracy": 0.98765},
    )
    report = BuildReport(
        runs={path: SnippetRun(snippet, "reused", tmp_path / "results" / "s", result)}
    )
    (tmp_path / "posts").mkdir()
    return report, tmp_path / "posts" / "p.md"


def test_hostile_output_is_escaped(tmp_path):
    report, post = report_for(tmp_path)
    page = render_page(
        "[x](../snippets/s.py#a)\n", post, report, Links(lambda folder, name: f"assets/{name}")
    )
    html = page.insert_fragments(page.markdown)
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_code_fence_is_longer_than_backticks_in_code_and_provenance_shown(tmp_path):
    report, post = report_for(tmp_path)
    page = render_page("[x](../snippets/s.py#a)\n", post, report, Links(lambda folder, name: name))
    assert page.markdown.startswith("````python title=\"snippets/s.py › a\"\nprint('```')\n````")
    html = page.insert_fragments(page.markdown)
    assert (
        "Ran on CPU (2 cores) · TensorFlow 2.21.0 · Keras 3.15.1 · 1.5 s · 2026-11-21 10:00 UTC"
        in html
    )
    assert 'src="c-light.svg#only-light"' in html and 'src="c-dark.svg#only-dark"' in html


def test_placeholders_are_formatted_and_escaped(tmp_path):
    report, post = report_for(tmp_path)
    page = render_page(
        "A {{ s.accuracy:.1% }} B {{ s.name }}\n", post, report, Links(lambda folder, name: name)
    )
    assert page.markdown.startswith("A 98.8% B &lt;script&gt;")


def test_long_logs_show_their_last_lines_and_keep_the_rest_one_click_away():
    log = "".join(f"Epoch {i}/30\n" for i in range(1, 31))
    html = text_html(TextOutput("stdout", log))
    earlier, visible = html.split("</details>")
    assert "Show the 24 earlier lines" in earlier and "Epoch 24/30" in earlier
    assert "Epoch 25/30" in visible and "Epoch 30/30" in visible and "Epoch 24/30" not in visible
    table = "".join(f"row {i}\n" for i in range(30))
    assert "<details" not in text_html(TextOutput("result", table))  # model.summary() stays whole


def test_provenance_names_the_backend_that_ran():
    from dlexec.render import provenance_text
    from dlexec.results import Result

    info = {"backend": "jax", "jax": "0.10.2", "keras": "3.15.1", "device": "GPU NVIDIA H100"}
    text = provenance_text(Result("s.py", "k", {}, {**info, "wall_time_s": 3.2, "date": "d"}, []))
    assert text == "Ran on GPU NVIDIA H100 · JAX 0.10.2 · Keras 3.15.1 · 3.2 s · d"


# -- the backend and seed matrix under a snippet's outputs ---------------------------------------


def matrix_report(tmp_path: Path) -> tuple[BuildReport, Path]:
    """A post whose prose shows s.accuracy as a percentage and claims it, with a recorded
    matrix: JAX and one more seed ran, PyTorch failed."""
    from dlexec.matrix import VariantRecord, store_record
    from dlexec.posts import find_references
    from dlexec.variants import Variant

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
    report.posts[post] = find_references(post, tmp_path / "snippets")
    return report, post


def test_each_headline_value_is_shown_on_every_backend_with_its_seed_spread(tmp_path: Path):
    report, post = matrix_report(tmp_path)
    body = post.read_text().split("---\n", 2)[2]
    page = render_page(body, post, report, Links(lambda folder, name: name), first_line=6)
    html_out = page.insert_fragments(page.markdown)
    assert "It scores 98.8% (98.8\N{EN DASH}99.0% over seeds) in 5 epochs." in page.markdown
    [row] = html_out.split("<li>")[1:]  # epochs is the same on every run: not listed
    assert "<code>accuracy</code>: 98.8% on TensorFlow · 97.0% on JAX · fails on PyTorch" in row
    assert "(RuntimeError: no kernel for &lt;op&gt;)" in row  # the first line, escaped
    assert "2 seeds: 98.8\N{EN DASH}99.0%" in row


def test_a_range_without_recorded_seeds_says_to_run_make_verify(tmp_path: Path):
    report, post = report_for(tmp_path)
    page = render_page(
        "It scores {{ s.accuracy:.1% | range }}.\n", post, report, Links(lambda f, n: n)
    )
    assert "no other seeds are recorded for s; run `make verify`" in page.markdown


def test_a_claim_narrowed_to_some_runs_shows_its_reason(tmp_path: Path):
    report, post = matrix_report(tmp_path)
    post.write_text(
        "---\ndate: 2026-01-01\nexpect:\n  s.accuracy:\n    claim: \">= 0.98\"\n"
        "    backends: [tensorflow]\n    reason: \"JAX's kernels <differ>\"\n---\n# P\n\n"
        "[x](../snippets/s.py#a)\n"
    )
    page = render_page("[x](../snippets/s.py#a)\n", post, report, Links(lambda f, n: n))
    html_out = page.insert_fragments(page.markdown)
    assert "<em>claimed on TensorFlow only: JAX&#x27;s kernels &lt;differ&gt;</em>" in html_out
