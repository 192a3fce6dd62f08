"""`mkdocs serve` and `mkdocs build` at once: a lock makes the second wait and reuse, and the
stored result stays intact."""

from __future__ import annotations

import re
from pathlib import Path

from test_interrupts import prepare

from dlexec.results import load_result


def test_two_builds_at_once_execute_a_snippet_once(site_project: Path):
    snippet = site_project / "snippets" / "tiny.py"  # slow enough that the runs overlap
    snippet.write_text(snippet.read_text() + "\nimport time\n\ntime.sleep(5)\n")
    first, second = prepare(site_project), prepare(site_project)
    outputs = [build.communicate(timeout=300)[0] for build in (first, second)]
    assert [build.returncode for build in (first, second)] == [0, 0], outputs
    summaries = [
        re.search(r"snippets: (\d+) executed, (\d+) reused", out).groups() for out in outputs
    ]
    assert sorted(summaries) == [("0", "1"), ("1", "0")], outputs
    assert any("waiting: another build is executing snippets/tiny.py" in out for out in outputs)
    assert load_result(site_project / "results" / "tiny") is not None
