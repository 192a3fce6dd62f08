"""The suite's own machinery (tests/conftest.py), run by pytest in a scratch folder: an `alone`
test never runs beside another worker's test, and under CI=true a skipped test fails the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow  # each test runs pytest itself

# Each test writes when it starts and ends; the 0.3 s is the interval under test, long enough
# for tests on two workers to overlap unless the lock keeps them apart.
PROBE = """\
import time
from pathlib import Path

import pytest

LOG = Path(__file__).parent / "events.log"


def record(name):
    with LOG.open("a") as log:
        log.write(f"{name} start {time.monotonic()}\\n")
    time.sleep(0.3)  # under test: a test that lasts long enough to overlap another
    with LOG.open("a") as log:
        log.write(f"{name} end {time.monotonic()}\\n")
"""
ALONE = (
    PROBE
    + """
@pytest.mark.alone
@pytest.mark.parametrize("n", range(3))
def test_alone(n):
    record(f"alone{n}")
"""
)
OTHERS = (
    PROBE
    + """
@pytest.mark.parametrize("n", range(10))
def test_other(n):
    record(f"other{n}")
"""
)


def scratch_suite(root: Path, files: dict[str, str]) -> Path:
    """A folder with this suite's conftest.py and pyproject.toml beside `files`."""
    shutil.copy(REPO / "tests" / "conftest.py", root / "conftest.py")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def pytest_in(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(root), *args],
        cwd=root,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def overlapping(log: Path) -> set[tuple[str, str]]:
    """Pairs of tests that ran at the same time, from the events each wrote."""
    spans: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        name, _, moment = line.split()
        spans.setdefault(name, []).append(float(moment))
    return {
        (a, b)
        for a, (a_start, a_end) in spans.items()
        for b, (b_start, b_end) in spans.items()
        if a < b and a_start < b_end and b_start < a_end
    }


def test_an_alone_test_has_the_machine_to_itself(tmp_path: Path):
    root = scratch_suite(tmp_path, {"test_a.py": ALONE, "test_b.py": OTHERS})
    done = pytest_in(root, "-n", "2", "--dist", "loadscope", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    pairs = overlapping(root / "events.log")
    assert not [pair for pair in pairs if any(name.startswith("alone") for name in pair)]
    # Without the marker the same tests overlap: the check above can see an overlap.
    (root / "events.log").unlink()
    (root / "test_a.py").write_text(ALONE.replace("@pytest.mark.alone\n", ""))
    done = pytest_in(root, "-n", "2", "--dist", "loadscope", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [pair for pair in overlapping(root / "events.log") if "alone0" in pair[0]]


def test_under_ci_a_skipped_test_fails_the_run(tmp_path: Path):
    skipping = "import pytest\n\ndef test_needs_a_tool():\n    pytest.skip('no such tool')\n"
    root = scratch_suite(tmp_path, {"test_skip.py": skipping})
    assert pytest_in(root, "-q", CI="false").returncode == 0
    failed = pytest_in(root, "-q", CI="true")
    assert failed.returncode == pytest.ExitCode.TESTS_FAILED
    assert "CI=true: 1 test(s) skipped: test_skip.py::test_needs_a_tool" in failed.stdout
