"""Two CPU runs of the same seeded snippet print the same results."""

from __future__ import annotations

import re
from pathlib import Path

from dlexec.config import EngineConfig, Mode
from dlexec.errors import Location
from dlexec.pipeline import BuildReport, Engine
from dlexec.snippets import load_snippet

TIMING = re.compile(r"\d+m?s(/step)?")  # "1s 5ms/step": wall-clock timings, not results


def run_once(project: Path):
    config = EngineConfig.load(project, environ={"BLOG_EXECUTE": Mode.ALWAYS.value})
    snippet = load_snippet(project / "snippets" / "tiny.py")
    return Engine(config, log=lambda message: None).ensure(
        snippet, Location(snippet.path), BuildReport()
    )


def printed(run) -> list[str]:
    return [
        TIMING.sub("<t>", getattr(o, "text", "")) for cell in run.result.cells for o in cell.outputs
    ]


def test_two_runs_print_the_same_results(site_project: Path):
    first, second = run_once(site_project), run_once(site_project)
    assert first.status == second.status == "executed"
    assert printed(first) == printed(second)
    assert first.result.values == second.result.values
    assert [h.metrics for h in first.result.histories()] == [
        h.metrics for h in second.result.histories()
    ]
