"""Claims are held against every run `make verify` recorded: each backend and seed, within its
declared scope, and a run that is missing, stale or failed fails the claim."""

from __future__ import annotations

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
    assert "TensorFlow 0.98 · JAX 0.97 · PyTorch 0.94 ✗" in text
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
