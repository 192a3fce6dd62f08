"""Claims are held against every run `make verify` recorded: each backend and seed, within its
declared scope, and a run that is missing, stale or failed fails the claim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlexec.backends import MAIN, Variant
from dlexec.checks.claims import FAILED_RUN, FAILS, HOLDS, MISSING, OUT_OF_SCOPE, claim_reports
from dlexec.errors import AuthoringError
from dlexec.sources.expectations import Scope, read_expectations
from dlexec.store.records import MatrixSettings, VariantRecord, store_record
from dlexec.store.results import Result, save_result

INPUTS = {"source_sha256": "s", "engine": "6", "tensorflow": "2", "keras": "3", "data": {}}
SETTINGS = MatrixSettings(("tensorflow", "jax", "torch"), seeds=1)
JAX, TORCH, SEED = Variant("jax"), Variant("torch"), Variant("tensorflow", 1)


def write_post(tmp_path: Path, expect: str) -> Path:
    post = tmp_path / "p.md"
    post.write_text(f"---\ndate: 2026-01-01\nexpect:\n{expect}---\n# T\n")
    return post


def store(results: Path, values: dict, variants: dict[Variant, dict | str], inputs=INPUTS):
    """A main result with `values`, and a matrix: variant -> its values, or an error text."""
    folder = results / "m"
    save_result(folder, Result("snippets/m.py", "k", inputs, {}, [], values), {})
    for variant, found in variants.items():
        record_inputs = {**INPUTS, "backend": variant.backend, "seed_offset": variant.seed}
        if isinstance(found, str):
            record = VariantRecord(variant, "v", record_inputs, error=found)
        else:
            record = VariantRecord(variant, "v", record_inputs, values=found)
        store_record(folder, record, results / ".locks")


def verdicts(post: Path, results: Path) -> dict[Variant, str]:
    [report] = claim_reports([post], results, SETTINGS)
    return {m.variant: m.verdict for m in report.measurements}


def test_a_claim_holds_only_if_it_holds_on_every_backend_and_seed(tmp_path: Path):
    post = write_post(tmp_path, '  m.cnn: "> m.mlp"\n')
    results = tmp_path / "results"
    store(
        results,
        {"cnn": 0.98, "mlp": 0.95},
        {JAX: {"cnn": 0.97, "mlp": 0.96}, TORCH: {"cnn": 0.94, "mlp": 0.95}, SEED: {"cnn": 0.9}},
    )
    assert verdicts(post, results) == {MAIN: HOLDS, JAX: HOLDS, TORCH: FAILS, SEED: MISSING}
    [report] = claim_reports([post], results, SETTINGS)
    assert report.failed
    text = "\n".join(report.lines())
    assert "TensorFlow 0.98 (+0.03) · JAX 0.97 (+0.01) · PyTorch 0.94 (-0.01) ✗" in text
    assert "PyTorch: " in text and "measured m.cnn = 0.94, m.mlp = 0.95" in text


def test_a_failed_or_stale_run_fails_the_claim(tmp_path: Path):
    post = write_post(tmp_path, '  m.cnn: ">= 0.9"\n')
    results = tmp_path / "results"
    store(results, {"cnn": 0.98}, {JAX: "TypeError: tf op on a JAX tracer", TORCH: {"cnn": 0.97}})
    found = verdicts(post, results)
    assert found[JAX] == FAILED_RUN and found[TORCH] == HOLDS and found[SEED] == MISSING
    # The main result changed since: every variant is stale until `make verify` runs again.
    store(results, {"cnn": 0.98}, {}, inputs={**INPUTS, "source_sha256": "changed"})
    assert verdicts(post, results) == {MAIN: HOLDS, JAX: MISSING, TORCH: MISSING, SEED: MISSING}


def test_a_scoped_claim_is_held_only_where_it_is_claimed(tmp_path: Path):
    post = write_post(
        tmp_path,
        "  m.cnn:\n"
        '    claim: ">= 0.9"\n'
        "    backends: [tensorflow]\n"
        "    seeds: false\n"
        '    reason: "the seed spread is wider than the margin"\n',
    )
    results = tmp_path / "results"
    store(results, {"cnn": 0.98}, {JAX: "broken", SEED: {"cnn": 0.5}})
    assert verdicts(post, results) == {
        MAIN: HOLDS,
        JAX: OUT_OF_SCOPE,
        TORCH: OUT_OF_SCOPE,
        SEED: OUT_OF_SCOPE,
    }
    [report] = claim_reports([post], results, SETTINGS)
    assert not report.failed
    assert "claimed on TensorFlow with its own seed: the seed spread" in report.lines()[0]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('    claim: ">= 0.9"\n    backends: [tensorflow]\n', "needs a `reason:`"),
        ('    claim: ">= 0.9"\n    backends: [theano]\n    reason: x\n', "`backends:` lists"),
        ('    claim: ">= 0.9"\n    seeds: some\n    reason: x\n', "`seeds:` is true or false"),
        ('    claims: ">= 0.9"\n', "a claim with a scope has `claim:`"),
    ],
)
def test_a_bad_scope_names_the_post_and_line(tmp_path: Path, entry: str, problem: str):
    post = write_post(tmp_path, f"  m.cnn:\n{entry}")
    with pytest.raises(AuthoringError, match=problem) as raised:
        read_expectations(post)
    assert raised.value.location.path == post and raised.value.location.line == 4


def test_a_plain_claim_covers_every_run():
    assert all(Scope().covers(v) for v in (MAIN, JAX, TORCH, SEED))


FOUR_SEEDS = MatrixSettings(("tensorflow",), seeds=4)


def seeded(results: Path, cnn: list[float], mlp: list[float]) -> None:
    """m.cnn and m.mlp on the main run (seed offset 0) and four further seeds."""
    variants = {
        Variant("tensorflow", seed): {"cnn": cnn[seed], "mlp": mlp[seed]} for seed in (1, 2, 3, 4)
    }
    store(results, {"cnn": cnn[0], "mlp": mlp[0]}, variants)


def test_a_comparison_that_holds_on_every_seed_is_shown_by_its_interval(tmp_path: Path):
    post = write_post(tmp_path, '  m.cnn: "> m.mlp"\n')
    seeded(
        tmp_path / "results",
        [0.987, 0.985, 0.9825, 0.986, 0.984],
        [0.95, 0.948, 0.956, 0.95, 0.953],
    )
    [report] = claim_reports([post], tmp_path / "results", FOUR_SEEDS)
    interval, shown = report.interval
    assert shown and interval.n == 5 and interval.low > 0
    assert not report.failed
    assert report.lines()[-1].startswith("  margin +0.03") and report.lines()[-1].endswith(
        ": shown"
    )


def test_a_comparison_whose_interval_includes_zero_is_not_shown(tmp_path: Path):
    """Ahead by 2 test images (of 2,000) on four seeds and by 40 on one: every run holds, yet
    the mean margin's interval crosses zero, so the claim fails as not shown."""
    post = write_post(tmp_path, '  m.cnn: "> m.mlp"\n')
    seeded(tmp_path / "results", [0.986, 0.986, 0.986, 0.986, 0.995], [0.985] * 5)
    [report] = claim_reports([post], tmp_path / "results", FOUR_SEEDS)
    assert {m.verdict for m in report.measurements} == {HOLDS}
    assert report.failed and report.interval[0].low < 0 < report.interval[0].high
    assert "NOT SHOWN, the interval includes zero" in report.lines()[-1]


def test_a_declared_tie_holds_when_the_interval_lies_within_its_margin(tmp_path: Path):
    cnn, mlp = [0.987, 0.986, 0.984, 0.987, 0.986], [0.985, 0.985, 0.986, 0.986, 0.985]
    post = write_post(tmp_path, '  m.cnn:\n    claim: "~= m.mlp"\n    margin: 0.005\n')
    seeded(tmp_path / "results", cnn, mlp)
    [report] = claim_reports([post], tmp_path / "results", FOUR_SEEDS)
    assert not report.failed and report.lines()[-1].endswith(": shown")
    tight = write_post(tmp_path, '  m.cnn:\n    claim: "~= m.mlp"\n    margin: 0.001\n')
    [report] = claim_reports([tight], tmp_path / "results", FOUR_SEEDS)
    assert report.failed and "reaches beyond ±0.001" in report.lines()[-1]


@pytest.mark.parametrize(
    ("claim", "problem"),
    [
        ('    claim: "~= m.mlp"\n', "a tie states how close counts as equal"),
        ('    claim: "~= m.mlp"\n    margin: -1\n', "a tie states how close counts as equal"),
        ('    claim: "> m.mlp"\n    margin: 0.01\n', "only a tie (~=) has a `margin:`"),
    ],
)
def test_a_tie_needs_a_positive_margin_and_only_a_tie_has_one(tmp_path, claim, problem):
    post = write_post(tmp_path, f"  m.cnn:\n{claim}")
    with pytest.raises(AuthoringError, match=re.escape(problem)):
        read_expectations(post)


def test_a_threshold_reports_its_interval_and_is_held_run_by_run(tmp_path: Path):
    """A threshold that holds on every run passes even where its mean margin's interval
    reaches below zero (margins 0.001 to 0.9 over five seeds)."""
    post = write_post(tmp_path, '  m.cnn: ">= 0.05"\n')
    seeded(tmp_path / "results", [0.95, 0.051, 0.06, 0.052, 0.3675], [0.0] * 5)
    [report] = claim_reports([post], tmp_path / "results", FOUR_SEEDS)
    interval, shown = report.interval
    assert shown is None and interval.low < 0 < interval.high
    assert not report.failed and report.lines()[-1].startswith(
        "  mean margin +0.2461 (95% CI -0.238 to"
    )
