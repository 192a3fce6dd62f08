"""A snippet printing 100 MB: the build's memory stays bounded and the page says what was cut."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dlexec.store.results import load_result

# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a process started by a large
# parent (pytest, after the image tests) would report the parent's peak as its own.
MEASURE = """
import re, sys
from dlexec.tools.cli import main
code = main(["--root", sys.argv[1], "run", sys.argv[2]])
status = open("/proc/self/status").read()
print("peak_mb", int(re.search(r"VmHWM:\\s+(\\d+) kB", status)[1]) // 1024)
sys.exit(code)
"""


@pytest.mark.kernel
@pytest.mark.slow
def test_hundred_megabytes_of_output(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.dlexec]\n")
    snippet = tmp_path / "snippets" / "loud.py"
    snippet.parent.mkdir()
    # A pause before the last line: it must still come after the kept tail, in order.
    snippet.write_text(
        "# %% a\nimport time\n\nfor i in range(1_000_000):\n"
        '    print(f"{i:09d}", "x" * 90)\ntime.sleep(1)  # under test: the last line comes after a pause\n'
        'print("the end")\n'
    )
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(tmp_path), str(snippet)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    peak = int(done.stdout.rsplit("peak_mb", 1)[1])
    assert peak < 400, f"the build process peaked at {peak} MB for 100 MB of output"
    result = load_result(tmp_path / "results" / "loud")
    text = "".join(o.text for cell in result.cells for o in cell.outputs)
    assert len(text) < 1_000_000
    assert "of output cut here to bound memory" in text
    assert "lines (" in text and "cut from this output" in text
    # ipykernel's iopub socket drops messages under such a flood (ZMQ's high-water mark), so
    # which numbered lines survive varies; the last line, after the kept tail, is certain.
    *_, before_last, last = text.rstrip().splitlines()
    assert last == "the end" and before_last.endswith("x" * 90)
