"""`prepare --shard I/N` on N machines (or one after another) executes every stale snippet
exactly once, and the build that follows executes nothing."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import mkdocs_build

from dlexec.build.shards import Shard
from dlexec.errors import EngineError

EXECUTED = re.compile(r"^executed (snippets/\S+\.py) in ", re.M)


def add_variants(project: Path, names: list[str]) -> None:
    """More snippets like tiny.py (each its own seed, so its own cache key), one post each."""
    tiny = (project / "snippets" / "tiny.py").read_text()
    post = (project / "posts" / "tiny.md").read_text()
    for number, name in enumerate(names, start=1):
        (project / "snippets" / f"{name}.py").write_text(
            tiny.replace("set_random_seed(0)", f"set_random_seed({number})")
        )
        (project / "posts" / f"{name}.md").write_text(post.replace("tiny", name))


def prepare_shard(project: Path, shard: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlexec", "--root", str(project), "prepare", "--shard", shard],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.kernel
@pytest.mark.build
def test_shards_then_a_build_execute_each_stale_snippet_once(built_site_project: Path):
    site_project = built_site_project  # tiny.py's result is fresh; tiny_b and tiny_c are new
    add_variants(site_project, ["tiny_b", "tiny_c"])
    executed: list[str] = []
    summaries = {
        # Shard 1 of the sorted snippets tiny, tiny_b, tiny_c takes the first and the third.
        "1/2": "snippets: 1 executed, 1 reused, 0 failed, 1 left to other shards",
        # In the same checkout shard 2 finds those fresh; on its own machine it would skip them.
        "2/2": "snippets: 1 executed, 2 reused, 0 failed in",
    }
    for shard, summary in summaries.items():
        done = prepare_shard(site_project, shard)
        assert done.returncode == 0, done.stderr
        assert summary in done.stdout
        executed += EXECUTED.findall(done.stderr)
    assert sorted(executed) == ["snippets/tiny_b.py", "snippets/tiny_c.py"]
    built = mkdocs_build(site_project)
    assert built.returncode == 0, built.stderr
    assert "snippets: 0 executed, 3 reused, 0 failed" in built.stderr


def test_the_split_depends_only_on_the_snippets():
    paths = [Path(f"snippets/{name}.py") for name in "dcba"]
    first, second = Shard(1, 2).members(paths), Shard(2, 2).members(paths)
    assert first == {Path("snippets/a.py"), Path("snippets/c.py")}
    assert first | second == set(paths) and not first & second
    assert Shard(1, 2).members(reversed(paths)) == first


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_bad_shard_is_refused(text: str):
    with pytest.raises(EngineError, match="write I/N with 1 <= I <= N"):
        Shard.parse(text)
