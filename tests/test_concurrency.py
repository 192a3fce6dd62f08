"""`mkdocs serve` and `mkdocs build` at once: a lock makes the second wait and reuse, and the
stored result stays intact."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from conftest import Gate, processes_with, wait_until
from test_interrupts import prepare

from dlexec.store.results import load_result


@pytest.mark.kernel
def test_two_builds_at_once_execute_a_snippet_once(site_project: Path):
    second_waits = threading.Event()
    with Gate(lambda waiting: second_waits.is_set()) as gate:
        # The first build's run waits at the gate until the second build says it is waiting
        # for the first one's lock: the two builds surely overlap.
        snippet = site_project / "snippets" / "tiny.py"
        snippet.write_text(snippet.read_text() + "\n" + gate.code("tiny"))
        first = prepare(site_project)
        wait_until(lambda: processes_with(gate.marker), timeout=120, what="no run at the gate")
        second = prepare(site_project)
        lines: list[str] = []

        def read_second() -> None:
            for line in second.stdout:
                lines.append(line)
                if "waiting: another build is executing snippets/tiny.py" in line:
                    second_waits.set()

        reader = threading.Thread(target=read_second)
        reader.start()
        first_output = first.communicate(timeout=300)[0]
        second.wait(timeout=300)
        reader.join()
    outputs = [first_output, "".join(lines)]
    assert [build.returncode for build in (first, second)] == [0, 0], outputs
    assert gate.released == ["tiny"], "the second build never waited for the first"
    summaries = [
        re.search(r"snippets: (\d+) executed, (\d+) reused", out).groups() for out in outputs
    ]
    assert summaries == [("1", "0"), ("0", "1")], outputs
    assert load_result(site_project / "results" / "tiny") is not None
