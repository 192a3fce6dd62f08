"""Every number with its spread: the placeholder filters over a value's seed runs (mean, sd,
a 95% interval of the mean, a paired difference's interval) and an accuracy's test-sample
(Wilson) interval. Expected figures are computed here from the textbook formulas, with the
t quantile written out, not by the engine's own code."""

from __future__ import annotations

import html
import math
import statistics
from pathlib import Path

import pytest
from conftest import render

from dlexec.backends import Variant
from dlexec.build.report import BuildReport, SnippetRun
from dlexec.present.outputs_html import Links
from dlexec.sources.posts import read_document
from dlexec.sources.snippets import load_snippet
from dlexec.store.records import VariantRecord, store_record
from dlexec.store.results import Result

T_975_4 = 2.7764451051977987  # Student's t, 97.5th percentile, 4 degrees of freedom
CNN = [0.987, 0.985, 0.9825, 0.986, 0.984]  # seed offsets 0..4
MLP = [0.9515, 0.948, 0.9565, 0.950, 0.953]
OTHER_BACKENDS = {"jax": 0.9795, "torch": 0.9880}
T_975_6 = 2.4469118511449692  # 6 degrees of freedom


def five_seed_report(tmp_path: Path) -> tuple[BuildReport, Path]:
    """Snippet s published cnn and mlp accuracies (on 2,000 test images) on 5 seeds of
    TensorFlow, and on JAX and PyTorch with the first seed."""
    snippets = tmp_path / "snippets"
    snippets.mkdir()
    path = snippets / "s.py"
    path.write_text("# %% a\nx = 1\n")
    values = {"cnn": CNN[0], "mlp": MLP[0], "cnn_n": 2000, "name": "run"}
    result = Result("snippets/s.py", "k", {}, {"device": "CPU"}, [], values=values)
    run = SnippetRun(load_snippet(path), "reused", tmp_path / "results" / "s", result)
    for seed in range(1, 5):
        record = VariantRecord(
            Variant("tensorflow", seed), "v", {}, values={"cnn": CNN[seed], "mlp": MLP[seed]}
        )
        store_record(run.folder, record, tmp_path / "locks")
    for backend, cnn in OTHER_BACKENDS.items():
        values = {"cnn": cnn, **({"mlp": 0.95} if backend == "jax" else {})}  # torch: no mlp
        record = VariantRecord(Variant(backend), "b", {}, values=values)
        store_record(run.folder, record, tmp_path / "locks")
    (tmp_path / "posts").mkdir()
    return BuildReport(runs={path: run}), tmp_path / "posts" / "p.md"


def shown(tmp_path: Path, placeholder: str) -> str:
    """The placeholder as a reader sees it (character references decoded)."""
    folder = tmp_path / str(len(list(tmp_path.iterdir())))
    folder.mkdir()
    report, post = five_seed_report(folder)
    return html.unescape(render(f"{placeholder}\n", post, report, Links(str)).markdown.strip())


def test_ci_is_the_mean_with_its_t_interval_and_says_what_it_covers(tmp_path: Path):
    half = T_975_4 * statistics.stdev(CNN) / math.sqrt(5)
    expected = f"{statistics.mean(CNN):.2%} ± {half * 100:.2f} pp (95% CI of the mean, 5 seeds)"
    assert shown(tmp_path, "{{ s.cnn:.2% | ci }}") == expected


def test_rerun_is_where_one_more_run_lands_over_seeds_and_backends(tmp_path: Path):
    """A reader's re-run may change the seed, the threads and the backend: the prediction
    interval of one more run from every recorded run (not the mean's, which is narrower)."""
    runs = [*CNN, *OTHER_BACKENDS.values()]
    half = T_975_6 * statistics.stdev(runs) * math.sqrt(1 + 1 / 7)
    low, high = statistics.mean(runs) - half, statistics.mean(runs) + half
    assert shown(tmp_path, "{{ s.cnn:.2% | rerun }}") == (
        f"{low * 100:.2f}\N{EN DASH}{high * 100:.2f}% (where 95% of re-runs land: 7 runs, "
        "5 seeds and 3 backends)"
    )
    assert "6 paired runs" in shown(tmp_path, "{{ s.cnn - s.mlp:.1% | rerun }}")


def test_mean_and_sd_over_the_seeds(tmp_path: Path):
    assert shown(tmp_path, "{{ s.cnn:.4f | mean }}") == f"{statistics.mean(CNN):.4f}"
    assert shown(tmp_path, "{{ s.cnn:.2% | sd }}") == f"{statistics.stdev(CNN) * 100:.2f} pp"


def test_a_difference_is_paired_seed_by_seed(tmp_path: Path):
    differences = [c - m for c, m in zip(CNN, MLP, strict=True)]
    mean, half = statistics.mean(differences), T_975_4 * statistics.stdev(differences) / 5**0.5
    low, high = mean - half, mean + half
    assert shown(tmp_path, "{{ s.cnn - s.mlp:.1% | ci }}") == (
        f"+{mean * 100:.1f} pp (95% CI +{low * 100:.1f} pp to +{high * 100:.1f} pp, 5 paired seeds)"
    )
    assert shown(tmp_path, "{{ s.mlp - s.cnn:.3f }}") == f"\N{MINUS SIGN}{CNN[0] - MLP[0]:.3f}"


def test_wilson_is_the_test_sample_interval_of_one_run(tmp_path: Path):
    p, n, z = CNN[0], 2000, 1.959963984540054
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert shown(tmp_path, "{{ s.cnn:.1% | wilson }}") == (
        f"{p:.1%} (95% Wilson interval {(center - half) * 100:.1f}\N{EN DASH}"
        f"{center + half:.1%}, 2,000 test examples)"
    )


@pytest.mark.parametrize(
    ("placeholder", "problem"),
    [
        ("{{ s.mlp:.1% | wilson }}", "published as `mlp_n`"),
        ("{{ s.cnn - s.mlp | wilson }}", "the wilson filter is for one accuracy"),
        ("{{ s.cnn - s.name | ci }}", "a difference needs two numbers"),
        ("{{ s.cnn - s.nope | ci }}", "snippet 's' has no value 'nope'"),
        ("{{ s.cnn | median }}", "unknown filter 'median'"),
    ],
)
def test_a_filter_that_cannot_apply_says_why(tmp_path: Path, placeholder: str, problem: str):
    assert problem in shown(tmp_path, placeholder)


def test_one_run_is_not_a_spread(tmp_path: Path):
    report, post = five_seed_report(tmp_path)
    (report.runs[next(iter(report.runs))].folder / "matrix.json").unlink()
    page = render("{{ s.cnn | ci }}\n", post, report, Links(str))
    assert "no other seeds are recorded for s; run `make verify`" in page.markdown


def test_the_page_shows_each_claim_with_its_interval(tmp_path: Path):
    report, post = five_seed_report(tmp_path)
    text = '---\ndate: 2026-01-01\nexpect:\n  s.cnn: "> s.mlp"\n---\n\n[x](../snippets/s.py)\n'
    post.write_text(text)
    report.posts[post] = read_document(post, tmp_path / "snippets")
    page = render(text, post, report, Links(str))
    claims = html.unescape(page.fragments[-1])
    low, high = paired_bounds()
    assert (
        f"Claim <code>s.cnn > s.mlp</code>: margin +{statistics.mean(CNN) - statistics.mean(MLP):.4g}"
        f" (95% CI +{low:.4g} to +{high:.4g}, 5 seeds): shown"
    ) in claims


def paired_bounds() -> tuple[float, float]:
    differences = [c - m for c, m in zip(CNN, MLP, strict=True)]
    half = T_975_4 * statistics.stdev(differences) / 5**0.5
    return statistics.mean(differences) - half, statistics.mean(differences) + half


def test_wilson_reads_the_test_set_size_from_n_test_when_the_value_has_no_n(tmp_path: Path):
    report, post = five_seed_report(tmp_path)
    run = next(iter(report.runs.values()))
    run.result.values["n_test"] = 2000
    page = render("{{ s.mlp:.1% | wilson }}\n", post, report, Links(str))
    assert html.unescape(page.markdown).startswith(f"{MLP[0]:.1%} (95% Wilson interval ")
    assert "2,000 test examples)" in html.unescape(page.markdown)
