"""Checked claims: every expectation a post declares holds for the committed results."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from dlexec.checks.claims import claim_reports
from dlexec.config import EngineConfig
from dlexec.errors import AuthoringError
from dlexec.sources.expectations import NAME, check, read_expectations
from dlexec.store.records import MatrixSettings
from dlexec.store.results import load_result

POSTS = sorted((REPO / "posts").glob("*.md"))


def committed_values(names: set[str]) -> dict[str, dict]:
    results = {name: load_result(REPO / "results" / name) for name in names}
    return {name: result.values for name, result in results.items() if result is not None}


@pytest.mark.parametrize("post", POSTS, ids=[post.stem for post in POSTS])
def test_declared_expectations_hold(post: Path):
    expectations = read_expectations(post)
    failures = [check(e, committed_values(e.snippets())) for e in expectations]
    assert [f for f in failures if f] == []


@pytest.mark.parametrize("post", POSTS, ids=[post.stem for post in POSTS])
def test_every_claim_holds_on_every_recorded_backend_and_seed(post: Path):
    """The committed matrix (make verify) covers every claim's runs, and each one holds."""
    config = EngineConfig.load(REPO)
    settings = MatrixSettings(config.backends, config.seeds)
    reports = claim_reports([post], config.results_dir, settings)
    assert reports
    failed = ["\n".join(report.lines()) for report in reports if report.failed]
    assert failed == []


def test_launch_posts_declare_their_headline_numbers():
    assert all(read_expectations(post) for post in POSTS)


@pytest.mark.parametrize("post", POSTS, ids=[post.stem for post in POSTS])
def test_every_post_holds_a_result_against_a_baseline_its_runs_computed(post: Path):
    """A headline number alone says little: each post claims one result against another value
    that a run produced (a baseline, a simpler model), not only against a number typed in."""
    assert any(NAME.match(claim.operand) for claim in read_expectations(post)), post.name


def write_post(tmp_path: Path, expect: str) -> Path:
    post = tmp_path / "p.md"
    post.write_text(f"---\ndate: 2026-01-01\nexpect:\n{expect}---\n# T\n")
    return post


def test_contradicted_claim_names_post_claim_and_measured_value(tmp_path: Path):
    post = write_post(tmp_path, '  cnn.test_accuracy: ">= 0.99"\n')
    [expectation] = read_expectations(post)
    message = check(expectation, {"cnn": {"test_accuracy": 0.9755}})
    assert message == (
        f"{post}:4: expectation cnn.test_accuracy >= 0.99 does not hold: "
        "measured cnn.test_accuracy = 0.9755"
    )


def test_claims_can_compare_two_values(tmp_path: Path):
    post = write_post(tmp_path, '  m.cnn: "> m.mlp"\n')
    [expectation] = read_expectations(post)
    assert check(expectation, {"m": {"cnn": 0.97, "mlp": 0.95}}) is None
    assert "measured m.cnn = 0.9, m.mlp = 0.95" in check(
        expectation, {"m": {"cnn": 0.9, "mlp": 0.95}}
    )


def test_missing_value_is_reported(tmp_path: Path):
    [expectation] = read_expectations(write_post(tmp_path, '  m.nope: ">= 1"\n'))
    assert "no committed value m.nope" in check(expectation, {"m": {}})


def test_malformed_claim_names_post_and_line(tmp_path: Path):
    post = write_post(tmp_path, '  m.acc: "about 0.9"\n')
    with pytest.raises(
        AuthoringError, match=r"p\.md:4: expectation m\.acc: 'about 0\.9' should read"
    ):
        read_expectations(post)


def test_a_decimal_threshold_is_compared_at_float32_precision(tmp_path: Path):
    """1,900 of 2,000 correct is 0.949999988 in float32 (as Keras reports it): it is 95%."""
    [at_least] = read_expectations(write_post(tmp_path, '  m.accuracy: ">= 0.95"\n'))
    assert check(at_least, {"m": {"accuracy": 0.949999988079071}}) is None
    assert check(at_least, {"m": {"accuracy": 0.9494999647140503}}) is not None


def test_make_check_names_posts_from_the_project_root_and_counts_the_claims():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "dlexec", "--root", str(REPO), "check"],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    claims = sum(len(read_expectations(post)) for post in POSTS)
    assert done.stdout.splitlines()[-1] == (
        f"claims: {claims} checked in {len(POSTS)} posts: {claims} hold, 0 failed"
    )
    assert str(REPO) not in done.stdout and "\nposts/" in "\n" + done.stdout


def test_a_repeated_key_is_an_error_at_the_repeat_naming_the_first(tmp_path: Path):
    """YAML would keep only the last of two claims under one key: the first would be dropped."""
    post = write_post(tmp_path, '  m.mse: "< m.pca_mse"\n  m.acc: ">= 0.9"\n  m.mse: "<= 0.03"\n')
    with pytest.raises(AuthoringError) as raised:
        read_expectations(post)
    assert (raised.value.location.path, raised.value.location.line) == (post, 6)
    assert str(raised.value).startswith(f"{post}:6: expectation m.mse is written twice")
    assert "(first at line 4)" in raised.value.message
    assert "as a list under one key" in raised.value.message


def test_a_key_repeated_in_other_spellings_is_still_a_repeat(tmp_path: Path):
    post = write_post(tmp_path, '  m.mse: "< m.pca_mse"\n  "m.mse":\n    claim: "<= 0.03"\n')
    with pytest.raises(AuthoringError, match=r"p\.md:5: expectation m\.mse is written twice"):
        read_expectations(post)


def test_a_key_repeated_in_a_scoped_claim_is_an_error(tmp_path: Path):
    post = write_post(tmp_path, '  m.mse:\n    claim: "< m.pca_mse"\n    claim: "<= 0.03"\n')
    with pytest.raises(
        AuthoringError,
        match=r"p\.md:6: expectation m\.mse: `claim:` is written twice \(first at line 5\)",
    ):
        read_expectations(post)


def test_a_list_makes_two_claims_about_one_value_each_at_its_line(tmp_path: Path):
    post = write_post(
        tmp_path,
        '  m.acc: ">= 0.9"\n'
        "  m.mse:\n"
        '    - "< m.pca_mse"\n'
        '    - claim: "<= 0.03"\n'
        "      backends: [tensorflow]\n"
        '      reason: "the other backends round differently"\n'
        '    - ">= 0"\n',
    )
    acc, below_pca, threshold, positive = read_expectations(post)
    assert (acc.line, acc.text) == (4, "m.acc >= 0.9")
    assert (below_pca.line, below_pca.text) == (6, "m.mse < m.pca_mse")
    assert not below_pca.scope.narrowed
    assert (threshold.line, threshold.text) == (7, "m.mse <= 0.03")
    assert threshold.scope.backends == ("tensorflow",) and threshold.scope.reason
    assert (positive.line, positive.text) == (10, "m.mse >= 0")
    assert below_pca.snippets() == {"m"}


def test_a_failing_list_item_is_reported_at_its_own_line(tmp_path: Path):
    post = write_post(tmp_path, '  m.mse:\n    - "< m.pca_mse"\n    - "<= 0.03"\n')
    below_pca, threshold = read_expectations(post)
    values = {"m": {"mse": 0.05, "pca_mse": 0.08}}
    assert check(below_pca, values) is None
    assert check(threshold, values) == (
        f"{post}:6: expectation m.mse <= 0.03 does not hold: measured m.mse = 0.05"
    )


@pytest.mark.parametrize(
    ("expect", "line", "problem"),
    [
        ('  m.mse:\n    - "< m.pca_mse"\n    - "about 0.03"\n', 6, "'about 0.03' should read"),
        ('  m.mse:\n    - "< m.pca_mse"\n    - claim: "< 1"\n      seeds: false\n', 6, "`reason:`"),
        ("  m.mse: []\n", 4, "the list of claims is empty"),
    ],
)
def test_a_bad_list_item_names_its_own_line(tmp_path: Path, expect: str, line: int, problem: str):
    post = write_post(tmp_path, expect)
    with pytest.raises(AuthoringError, match=problem) as raised:
        read_expectations(post)
    assert (raised.value.location.path, raised.value.location.line) == (post, line)
