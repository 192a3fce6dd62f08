"""verify-results: the comparison rules (no kernel), the git and ownership checks (no kernel), and
one end-to-end run on the fixture site: a forged result fails, an honest one passes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlexec.build.engine import Engine
from dlexec.capture.plots import curve_files
from dlexec.config import EngineConfig
from dlexec.errors import AuthoringError
from dlexec.sources.snippets import MAX_TOLERANCE, load_snippet
from dlexec.store.compare import (
    Tolerance,
    compare_cell,
    compare_error,
    compare_history,
    compare_results,
    compare_text,
    compare_values,
    figure_problems,
    tolerance_for,
)
from dlexec.store.keys import key_inputs
from dlexec.store.outputs import ErrorOutput, HistoryOutput, ImageOutput, TextOutput
from dlexec.store.results import CellResult, Result, load_result, save_result
from dlexec.tools.verify_results import (
    changed_results,
    curve_problems,
    ownership_problems,
    summary_line,
    verify_one,
)

EXACT = tolerance_for(0)
LOOSE = Tolerance()  # the default, and the loosest a header may declare
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def history(loss: list[float | None], model: str = "m") -> HistoryOutput:
    return HistoryOutput(model, list(range(1, len(loss) + 1)), {"loss": loss})


def result(values: dict, *cells: CellResult, **changes) -> Result:
    base = Result("snippets/s.py", "k", {}, {"date": "today"}, list(cells), values)
    return dataclasses.replace(base, **changes)


# --- tolerance and values ---------------------------------------------------------------------


def test_the_default_tolerance_is_what_another_machine_needs_and_no_more():
    """0.1% is the drift measured between CPU kernels (README, "Tolerance"); 8% is a forgery."""
    assert LOOSE.relative == MAX_TOLERANCE == 0.003
    assert LOOSE.close(0.9645, 0.9645 * 1.001)
    assert LOOSE.close(0.7595725, 0.7609083)  # reuters_topics with oneDNN limited to SSE4.1
    assert not LOOSE.close(0.9, 0.9 * 1.08)
    assert not LOOSE.close(0.9, 0.9 * 1.004)
    assert EXACT.close(0.1 + 0.2, 0.3)
    assert not EXACT.close(0.9810, 0.98100001)
    assert EXACT.close(float("nan"), float("nan"))


def test_a_header_tolerance_may_only_tighten(tmp_path: Path):
    assert tolerance_for(None) == Tolerance()
    assert tolerance_for(0.0001).relative == 0.0001
    with pytest.raises(ValueError, match="outside"):
        tolerance_for(0.1)
    snippet = tmp_path / "loose.py"
    snippet.write_text("# ---\n# tolerance: 0.1\n# ---\n\n# %%\nx = 1\n")
    with pytest.raises(AuthoringError) as refused:
        load_snippet(snippet)
    assert str(refused.value).startswith(f"{snippet}:2: ")
    assert "0.003" in str(refused.value)


def test_an_eight_percent_forgery_fails_and_a_cross_machine_drift_passes():
    """Every number of a result moved by 0.1% (another machine) against 8% (a forgery)."""

    def run(scale: float) -> Result:
        train = CellResult(
            0,
            "train",
            [
                TextOutput("stdout", f"test accuracy: {0.9645 * scale:.4f}\n"),
                history([0.5 * scale]),
            ],
        )
        return result({"acc": 0.9645 * scale, "n": 2000}, train)

    assert compare_results(run(1.0), run(1.001), Tolerance()) == []
    assert len(compare_results(run(1.0), run(1.08), Tolerance())) == 3
    assert len(compare_results(run(1.0), run(0.92), Tolerance())) == 3


def test_values_within_tolerance_are_equal():
    committed = {"acc": 0.98, "n": 2000, "ok": True, "name": "cnn"}
    assert compare_values(committed, {**committed, "acc": 0.98 * (1 + 1e-9)}, EXACT) == []
    assert compare_values(committed, {**committed, "acc": 0.981}, LOOSE) == []


def test_a_value_beyond_tolerance_is_named_with_both_numbers():
    assert compare_values({"acc": 0.98}, {"acc": 0.75}, LOOSE) == [
        "value acc: committed 0.98 vs re-run 0.75"
    ]


def test_ints_bools_and_strings_must_be_equal():
    lines = compare_values(
        {"n": 2000, "ok": True, "s": "a", "f": 1.0},
        {"n": 2001, "ok": False, "s": "b", "f": 1},
        LOOSE,
    )
    assert [line.split(":")[0] for line in lines] == ["value f", "value n", "value ok", "value s"]


def test_missing_and_extra_values_are_differences():
    assert compare_values({"a": 1, "b": 2}, {"b": 2, "c": 3}, EXACT) == [
        "value a: committed 1 vs re-run (missing)",
        "value c: committed (missing) vs re-run 3",
    ]


def test_machine_specific_paths_are_not_results():
    committed = {"path": "/work/main/.cache/keras/datasets/x.csv"}
    rerun = {"path": "/tmp/dlexec-a1b2c3/keras/datasets/x.csv"}
    assert compare_values(committed, rerun, EXACT) == []
    assert compare_values(committed, {"path": "/tmp/dlexec-a1/keras/datasets/y.csv"}, EXACT)


# --- text -------------------------------------------------------------------------------------


KERAS_LOG = (
    "Epoch 1/2\n"
    "57/57 ━━━━━━━━━━━━━━━━━━━━ 1s 5ms/step - accuracy: 0.7500 - loss: 0.9406\n"
    "test accuracy: 97.5%\n"
)


def test_timings_are_ignored_and_numbers_compared_within_tolerance():
    rerun = KERAS_LOG.replace("1s 5ms/step", "12s 40ms/step").replace("0.9406", "0.9407")
    assert compare_text(KERAS_LOG, rerun, EXACT) is None  # last printed digit: rounding
    assert compare_text(KERAS_LOG, KERAS_LOG.replace("97.5", "97.55"), LOOSE) is None


def test_a_number_beyond_tolerance_names_the_first_differing_line():
    rerun = KERAS_LOG.replace("97.5%", "99.9%")
    assert compare_text(KERAS_LOG, rerun, EXACT) == (
        "line 3: committed 'test accuracy: 97.5%' vs re-run 'test accuracy: 99.9%'"
    )


def test_a_changed_word_differs_whatever_the_tolerance():
    rerun = KERAS_LOG.replace("test accuracy", "train accuracy")
    assert compare_text(KERAS_LOG, rerun, LOOSE).startswith("line 3: committed 'test accuracy")


def test_counts_get_no_rounding_allowance():
    assert compare_text("n = 2000\n", "n = 2001\n", EXACT) is not None
    assert compare_text("57/57\n", "58/58\n", EXACT) is not None


def test_a_missing_or_extra_line_differs():
    assert compare_text("a\nb\n", "a\n", EXACT) == "line 2: committed 'b' vs re-run (no such line)"
    assert compare_text("a\n", "a\nb\n", EXACT) == "line 2: committed (no such line) vs re-run 'b'"


# --- histories, errors, cells -----------------------------------------------------------------


def test_a_changed_history_names_metric_and_epoch():
    assert compare_history(history([0.5, 0.4]), history([0.5, 0.4 * (1 + 1e-4)]), LOOSE) is None
    assert compare_history(history([0.5, 0.4]), history([0.5, 0.3]), LOOSE) == (
        "loss at epoch 2: committed 0.4 vs re-run 0.3"
    )
    assert "epochs" in compare_history(history([0.5, 0.4]), history([0.5]), EXACT)
    assert "model" in compare_history(history([0.5]), history([0.5], model="other"), EXACT)
    renamed = HistoryOutput("m", [1], {"val_loss": [0.5]})
    assert "metrics" in compare_history(history([0.5]), renamed, EXACT)
    assert "epoch 1" in compare_history(history([None]), history([0.5]), EXACT)
    restored = HistoryOutput("m", [1, 2], {"loss": [0.5, 0.4]}, restored_epoch=1)
    assert "restored epoch" in compare_history(history([0.5, 0.4]), restored, EXACT)


def test_errors_must_match_but_tracebacks_are_not_compared():
    error = ErrorOutput("ValueError", "bad shape (3, 4)", "File /home/a/x.py")
    assert (
        compare_error(error, dataclasses.replace(error, traceback="File /ci/x.py"), EXACT) is None
    )
    assert "exception" in compare_error(error, dataclasses.replace(error, ename="KeyError"), EXACT)
    assert compare_error(error, dataclasses.replace(error, evalue="bad shape (3, 5)"), EXACT)


def test_cells_hold_the_same_number_and_types_of_figures():
    committed = CellResult(0, "plot", [ImageOutput("figure-a.png", "image/png")])
    assert (
        compare_cell(committed, CellResult(0, "plot", [ImageOutput("b.png", "image/png")]), EXACT)
        == []
    )
    svg = CellResult(0, "plot", [ImageOutput("b.svg", "image/svg+xml")])
    assert compare_cell(committed, svg, EXACT) == [
        "cell plot: outputs committed [image(image/png)] vs re-run [image(image/svg+xml)]"
    ]
    assert compare_cell(committed, CellResult(0, "plot", []), EXACT)


def _bar_chart(folder: Path, accuracy: float, size: tuple[float, float] = (6, 4)) -> str:
    """A figure as a snippet draws it, saved under the name the engine gives it."""
    import hashlib
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=size)
    axes.bar(["cnn", "mlp", "baseline"], [accuracy, 0.95, 0.11])
    stream = io.BytesIO()
    figure.savefig(stream, format="png")
    plt.close(figure)
    name = f"figure-{hashlib.sha256(stream.getvalue()).hexdigest()[:16]}.png"
    (folder / name).write_bytes(stream.getvalue())
    return name


def test_figures_are_compared_by_their_pixels(tmp_path: Path):
    """A bar redrawn 0.1% taller (another machine) passes; 8% taller (a forgery) does not, nor
    does a figure of another size."""

    def with_figure(name: str) -> Result:
        return result({}, CellResult(0, "plot", [ImageOutput(name, "image/png")]))

    committed = with_figure(_bar_chart(tmp_path, 0.98))
    for accuracy, size, differs in [
        (0.98 * 1.001, (6, 4), False),
        (0.98 * 1.08, (6, 4), True),
        (0.98, (6, 5), True),
    ]:
        rerun = with_figure(_bar_chart(tmp_path, accuracy, size))
        assert bool(figure_problems(tmp_path, committed, tmp_path, rerun)) == differs


def test_results_name_cell_and_output_and_ignore_provenance():
    train = CellResult(1, "train", [TextOutput("stdout", "loss: 0.5\n"), history([0.5])])
    changed = CellResult(1, "train", [TextOutput("stdout", "loss: 0.7\n"), history([0.7])])
    committed = result({"n": 1}, train)
    assert (
        compare_results(committed, result({"n": 1}, train, provenance={"date": "x"}), EXACT) == []
    )
    assert compare_results(committed, result({"n": 1}, changed), EXACT) == [
        "cell train text(stdout): line 1: committed 'loss: 0.5' vs re-run 'loss: 0.7'",
        "cell train history: history of model 'm': loss at epoch 1: committed 0.5 vs re-run 0.7",
    ]
    assert compare_results(committed, result({"n": 1}), EXACT) == ["cells: committed 1 vs re-run 0"]


def test_summary_line():
    assert summary_line(2, 1) == "verify-results: 2 snippets re-executed, 1 differs"
    assert summary_line(1, 0) == "verify-results: 1 snippet re-executed, 0 differ"


# --- git, ownership, curves, corruption (no kernel) -------------------------------------------


def git(project: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args],
        cwd=project,
        env=GIT_ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def commit_all(project: Path, message: str) -> None:
    git(project, "add", "-A")
    git(project, "commit", "-q", "--allow-empty", "-m", message)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_changed_results_are_those_whose_files_differ_from_the_ref(tmp_path: Path):
    results = tmp_path / "results"
    for name in ("same", "edited", "figure", "removed"):
        write(results / name / "result.json", "{}")
    write(results / "figure" / "a.png", "a")
    git(tmp_path, "init", "-q")
    commit_all(tmp_path, "base")
    write(results / "edited" / "result.json", '{"forged": 1}')
    write(results / "figure" / "a.png", "b")
    write(results / "deep" / "er" / "result.json", "{}")  # new, untracked, nested
    (results / "removed" / "result.json").unlink()
    assert changed_results(tmp_path, results, "HEAD") == ["deep/er", "edited", "figure"]


@pytest.fixture
def fixture_config(site_project: Path) -> EngineConfig:
    return EngineConfig.load(site_project, environ={})


def committed_for(config: EngineConfig) -> Result:
    snippet = load_snippet(config.snippets_dir / "tiny.py")
    inputs = key_inputs(snippet, config.keras_home, config.data_mirror)
    return Result("snippets/tiny.py", inputs.key, dataclasses.asdict(inputs), {}, [])


def test_a_result_must_carry_its_snippets_key(fixture_config: EngineConfig):
    snippet = load_snippet(fixture_config.snippets_dir / "tiny.py")
    honest = committed_for(fixture_config)
    assert ownership_problems(fixture_config, snippet, honest) == []
    stolen = dataclasses.replace(honest, key="0" * 64)
    assert "does not belong" in ownership_problems(fixture_config, snippet, stolen)[0]
    moved = dataclasses.replace(honest, snippet="snippets/other.py")
    assert ownership_problems(fixture_config, snippet, moved) == [
        "snippet: committed 'snippets/other.py' vs 'snippets/tiny.py'"
    ]


def test_a_swapped_training_curve_is_caught(tmp_path: Path):
    fit = history([0.5, 0.4])
    files = {name: content for name, content in curve_files(fit).values()}
    plots = {palette: name for palette, (name, _) in curve_files(fit).items()}
    fit = dataclasses.replace(fit, plots=plots)
    saved = save_result(tmp_path, result({}, CellResult(0, "train", [fit])), files)
    assert curve_problems(tmp_path, saved) == []
    forged = {**files, plots["0/dark"]: b"<svg>a nicer curve</svg>"}
    saved = save_result(tmp_path, result({}, CellResult(0, "train", [fit])), forged)
    assert curve_problems(tmp_path, saved) == [
        f"training curves of model 'm' ({plots['0/dark']}): not the drawing of the committed "
        "history"
    ]


def test_a_corrupt_result_is_not_verified(fixture_config: EngineConfig):
    write(fixture_config.results_dir / "tiny" / "result.json", '{"checksum": "nope"}')
    verdict = verify_one(fixture_config, Engine(fixture_config), "tiny")
    assert not verdict.executed
    assert verdict.problems[0].startswith("cannot verify: ")
    assert "checksum mismatch" in verdict.problems[0]


# --- end to end: a real kernel ----------------------------------------------------------------


def dlexec(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlexec", "--root", str(project), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.kernel
def test_a_forged_result_fails_and_an_honest_one_passes(built_site_project: Path):
    """Commit an honest result, verify it; forge a value with a valid checksum, verify again."""
    site_project = built_site_project  # its results are the build's honest run
    write(site_project / ".gitignore", ".cache/\nsite/\n")
    git(site_project, "init", "-q")
    git(site_project, "add", "-A", "--", ".", ":!results", ":!notebooks")
    git(site_project, "commit", "-q", "-m", "a post without results")
    commit_all(site_project, "honest result")
    folder = site_project / "results" / "tiny"
    committed_before = (folder / "result.json").read_bytes()

    honest = dlexec(site_project, "verify-results", "HEAD~1")
    assert honest.returncode == 0, honest.stdout + honest.stderr
    assert "verify-results: 1 snippet re-executed, 0 differ" in honest.stdout
    assert (folder / "result.json").read_bytes() == committed_before  # never rewritten

    real = load_result(folder)
    forged = dataclasses.replace(real, values={**real.values, "final_loss": 0.001})
    save_result(folder, forged, {name: (folder / name).read_bytes() for name in real.files})
    assert load_result(folder).values["final_loss"] == 0.001  # the checksum is valid
    commit_all(site_project, "a better loss")

    checked = dlexec(site_project, "verify-results", "HEAD~1")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "verify-results: 1 snippet re-executed, 1 differs" in checked.stdout
    assert "value final_loss: committed 0.001 vs re-run " in checked.stderr
