"""A kernel computes with the math threads its snippet claims, in a build as on the command line.

The engine caches parsed snippets (.cache/snippets/) keyed by their text. A parse cached by
other engine code (a working tree whose default claim was 2 CPUs) must not be reused: it would
start every kernel of that snippet with 2 math threads while its header claims 1.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import engine_project

from dlexec.build.engine import Engine
from dlexec.sources import snippets
from dlexec.sources.needs import Needs
from dlexec.sources.posts import read_document

ONE_CPU = 'import os\n\n# %% run\nthreads = os.environ["OMP_NUM_THREADS"]\nprint(threads)\n'


@pytest.mark.kernel
def test_a_parse_cached_by_other_engine_code_does_not_set_the_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = engine_project(tmp_path, {"one": ONE_CPU})
    post = config.posts_dir / "p.md"
    path = read_document(post, config.snippets_dir).embeds[0].snippet  # as the engine reads it
    text = path.read_text()
    assert snippets.load_snippet(path).header.needs.cpus == 1
    # What an earlier engine left in the parse cache: the same text, parsed with 2 CPUs.
    with monkeypatch.context() as other:
        other.setattr(snippets, "_parser_code", lambda: "other engine code", raising=False)
        stale = snippets.load_snippet(path)
        stale = replace(stale, header=replace(stale.header, needs=Needs(cpus=2)))
        entry = config.root / ".cache" / "snippets" / f"{snippets._parse_key(path, text)}.json"
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(json.dumps(snippets._entry(stale)))

    messages: list[str] = []
    report = Engine(config, log=messages.append).prepare([post])

    assert not report.errors, report.error_texts()
    result = report.runs[path].result
    assert result.values["threads"] == "1", messages
    assert result.provenance["device"] == "CPU (1 core)"
    # What a reader's plain run does not share with this one, stated with the run (issue 25).
    assert result.provenance["math_threads"] == "1"
    # The snippet imports no framework: the kernel loaded none, so none has switches to set.
    assert result.provenance["deterministic_ops"] == "off"
