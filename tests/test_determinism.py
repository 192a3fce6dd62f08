"""Re-running a seeded snippet on the same machine changes only its provenance (date, wall time):
result.json is byte-identical otherwise, and so is every figure. Reviewers see no noise."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dlexec.build.engine import Engine
from dlexec.build.report import BuildReport
from dlexec.config import EngineConfig, Mode
from dlexec.errors import Location
from dlexec.sources.snippets import load_snippet

PROVENANCE_ONLY = re.compile(
    r'^ *"(date|wall_time_s|peak_memory_mib|checksum)": .*$|^ *"cell_wall_time_s": \[[^\]]*\],?$',
    re.M,
)


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def run_once(project: Path) -> dict[str, bytes]:
    """Execute tiny.py and return the bytes of every file of its result folder."""
    config = EngineConfig.load(project, environ={"BLOG_EXECUTE": Mode.ALWAYS.value})
    snippet = load_snippet(project / "snippets" / "tiny.py")
    run = Engine(config, log=lambda message: None).ensure(
        snippet, Location(snippet.path), BuildReport()
    )
    assert run.status == "executed", run.error
    return files_of(run.folder)


@pytest.mark.kernel
def test_two_runs_differ_only_in_provenance(built_site_project: Path):
    """The first run is the one the fixture blog's build stored; the second runs here."""
    first = files_of(built_site_project / "results" / "tiny")
    second = run_once(built_site_project)
    assert first.keys() == second.keys()
    for name in first:
        if name != "result.json":
            assert first[name] == second[name], f"{name} differs between runs"
    old, new = first["result.json"].decode(), second["result.json"].decode()
    assert PROVENANCE_ONLY.sub("", old) == PROVENANCE_ONLY.sub("", new)
    assert "ms/step" not in old and "ETA" not in old  # volatile timings are not stored
    assert json.loads(old)["values"]  # the run did publish values
