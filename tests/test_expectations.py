"""Checked claims: every expectation a post declares holds for the committed results."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from dlexec.claims import claim_reports
from dlexec.config import EngineConfig
from dlexec.errors import AuthoringError
from dlexec.expectations import check, read_expectations
from dlexec.matrix import MatrixSettings
from dlexec.results import load_result

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
