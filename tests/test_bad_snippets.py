"""Snippets that fail in every possible way: each gets a clear error, nothing else is harmed.

One engine run over tests/fixtures/bad_snippets (real kernels, real timeouts, real crashes)
feeds all the tests below; each checks one row of the robustness table.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import markdown
import pytest
from bs4 import BeautifulSoup
from conftest import kernel_pids, render

from dlexec.build.engine import Engine
from dlexec.build.report import BuildReport
from dlexec.config import EngineConfig
from dlexec.errors import DataMissingError, SnippetFailedError
from dlexec.present.outputs_html import Links
from dlexec.run import sandbox

FIXTURE = Path(__file__).parent / "fixtures" / "bad_snippets"
pytestmark = pytest.mark.kernel

SECRETS = {
    "MY_API_TOKEN": "t0ken",
    "AWS_SECRET_ACCESS_KEY": "s3cret",
    "DATABASE_URL": "pg://u:pw@h",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad") / "project"
    shutil.copytree(FIXTURE, root)
    (root / "mirror").mkdir()
    return root


@pytest.fixture(scope="module")
def report(project: Path) -> BuildReport:
    kernels_before = kernel_pids()
    saved = {name: os.environ.get(name) for name in SECRETS}
    os.environ.update(SECRETS)
    try:
        config = EngineConfig.load(project, environ={"BLOG_EXECUTE": "auto"})
        result = Engine(config, log=lambda message: None).prepare(
            sorted((project / "posts").glob("*.md"))
        )
    finally:
        for name, value in saved.items():
            os.environ.pop(name) if value is None else os.environ.__setitem__(name, value)
    result.kernels_left = kernel_pids() - kernels_before  # type: ignore[attr-defined]
    return result


def run_of(report: BuildReport, project: Path, name: str):
    return report.runs[(project / "snippets" / f"{name}.py").resolve()]


def error_of(report: BuildReport, name: str):
    [error] = [e for e in report.errors if e.location and Path(e.location.path).stem == name]
    return error


def text_of(run) -> str:
    return "".join(getattr(o, "text", "") for cell in run.result.cells for o in cell.outputs)


def test_raising_snippet_names_snippet_line_post_and_traceback(report, project):
    error = error_of(report, "raises")
    assert isinstance(error, SnippetFailedError)
    assert str(error).startswith(
        "snippets/raises.py:6: snippet failed: IndexError: list index out of range"
    )
    assert "posts/raises.md:6" in str(error)
    assert "IndexError" in error.traceback and "values[5]" in error.traceback
    assert "before" in text_of(run_of(report, project, "raises"))  # earlier cell's output kept
    assert not (project / "results" / "raises").exists()


def test_other_snippets_still_run_after_failures(report, project):
    assert run_of(report, project, "env_probe").status == "executed"
    assert run_of(report, project, "hostile").status == "executed"
    assert report.count("failed") == 10


def test_endless_loop_stopped_by_snippet_header_limit(report):
    error = error_of(report, "loop_header")
    assert (
        "snippets/loop_header.py:6: snippet failed: did not finish within its time limit of 2 s"
        in str(error)
    )


def test_endless_loop_stopped_by_post_limit(report):
    assert "did not finish within its time limit of 3 s" in str(error_of(report, "loop_post"))


def test_input_fails_at_once_because_stdin_is_closed(report, project):
    error = error_of(report, "asks")
    assert "StdinNotImplementedError" in str(error)
    assert run_of(report, project, "asks").seconds < 30


def test_kernel_exit_is_reported_and_next_snippet_gets_a_fresh_process(report, project):
    assert "the kernel process exited with code 3 while running this cell" in str(
        error_of(report, "exits")
    )
    assert run_of(report, project, "after_exit").status == "executed"


def test_segfault_is_reported(report):
    assert "the kernel process was killed by signal SIGSEGV" in str(error_of(report, "segfault"))


def test_sigkill_is_reported_with_the_out_of_memory_hint(report):
    message = str(error_of(report, "oom_killed"))
    assert "killed by signal SIGKILL (often the out-of-memory killer)" in message


def test_undeclared_download_explains_offline_data(report):
    message = str(error_of(report, "downloads"))
    assert "It tried to download https://example.invalid/notes.txt" in message
    assert "declare the file in the snippet header" in message


def test_declared_but_missing_data_names_file_places_and_remedy(report, project):
    error = error_of(report, "missing_data")
    assert isinstance(error, DataMissingError)
    message = str(error)
    assert "data file 'datasets/absent.csv' is not available" in message
    assert "snippets/missing_data.py:2" in message  # the header line that declares it
    assert str(project / ".cache" / "keras" / "datasets" / "absent.csv") in message
    assert str(project / "mirror" / "datasets" / "absent.csv") in message
    assert "BLOG_DATA_MIRROR" in message


def test_snippets_get_no_secrets_and_a_temporary_directory(report, project):
    run = run_of(report, project, "env_probe")
    printed = text_of(run)
    assert "token: None" in printed and "secret: None" in printed and "database: None" in printed
    keras_home, cwd = run.result.values["keras_home"], run.result.values["cwd"]
    assert keras_home == f"{cwd}/.keras"  # the run's own home: working directory and KERAS_HOME
    if sandbox.probe() is None:
        assert cwd == "/home/reader"  # the same path on every run: results do not change
    else:
        assert "dlexec-" in cwd and not Path(cwd).exists()  # a temporary folder, removed


@pytest.mark.parametrize("post", ["hostile", "hostile_error", "zz_hostile_value"])
def test_hostile_output_is_never_html(report, project, post):
    path = project / "posts" / f"{post}.md"
    page = render(path.read_text(), path, report, Links(lambda folder, name: name))
    converted = markdown.markdown(
        page.markdown, extensions=["pymdownx.highlight", "pymdownx.superfences"]
    )
    html = page.insert_fragments(converted)
    soup = BeautifulSoup(html, "html.parser")
    assert not soup.find_all("script")
    assert not [tag for tag in soup.find_all(True) if any(a.startswith("on") for a in tag.attrs)]
    text = soup.get_text()
    assert "<script>" in text or "<img" in text  # shown as text, not markup


def test_no_kernel_is_left_running(report):
    assert report.kernels_left == set()
