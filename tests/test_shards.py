"""`prepare --shard I/N` on N machines (or one after another) executes every stale snippet
exactly once, and the build that follows executes nothing; shares are balanced by the run
times committed at HEAD."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import engine_project, git, mkdocs_build

from dlexec.build import scheduling
from dlexec.build.engine import Engine
from dlexec.build.shards import Shard, committed_seconds, makespan, split
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


def long_tailed(count: int, seed: int = 26) -> dict[Path, float]:
    """Snippet run times as a blog has them: most under a minute, a few of many minutes."""
    draw = random.Random(seed)
    return {Path(f"snippets/s{n:03}.py"): draw.lognormvariate(3.5, 1.2) for n in range(count)}


def test_recorded_times_balance_the_shards_longest_first():
    seconds = long_tailed(100)
    paths = list(seconds)
    shares = split(paths, 4, seconds)
    assert sorted(path for share in shares for path in share) == sorted(paths)  # each once
    ideal = sum(seconds.values()) / 4
    assert makespan(shares, seconds) <= 1.2 * ideal
    by_position = split(paths, 4, {})
    assert makespan(shares, seconds) < makespan(by_position, seconds)
    # Deterministic: any order of the same snippets gives the same split, on every shard.
    shuffled = random.Random(1).sample(paths, len(paths))
    assert split(shuffled, 4, seconds) == shares
    assert Shard(3, 4).members(shuffled, seconds) == set(shares[2])


def test_a_snippet_without_a_recorded_time_counts_as_the_mean():
    known = {Path("snippets/a.py"): 100.0, Path("snippets/b.py"): 10.0}
    new = Path("snippets/new.py")
    # The mean, 55 s, goes to the lighter shard (b's); without the mean it would sit at 0 s
    # and join whichever shard came first.
    assert split([*known, new], 2, known) == [[Path("snippets/a.py")], [new, Path("snippets/b.py")]]


def commit_result(project: Path, name: str, wall_time: object) -> Path:
    folder = project / "results" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps({"provenance": {"wall_time_s": wall_time}}))
    return folder / "result.json"


def test_recorded_times_are_read_as_committed_and_checked(tmp_path: Path):
    files = {Path(f"snippets/{name}.py"): Path(f"results/{name}/result.json") for name in "abcde"}
    assert committed_seconds(tmp_path, files) == {}  # outside git: position decides
    git(tmp_path, "init", "-q")
    edited = commit_result(tmp_path, "a", 42.5)
    commit_result(tmp_path, "b", float("inf"))  # written as Infinity: not a time
    commit_result(tmp_path, "c", -3)
    commit_result(tmp_path, "d", True)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "results")
    edited.write_text(json.dumps({"provenance": {"wall_time_s": 9000}}))  # not committed
    # a.py's committed time, whatever the working tree says; e.py has no committed result.
    assert committed_seconds(tmp_path, files) == {Path("snippets/a.py"): 42.5}


def test_shards_of_a_committed_blog_split_by_time_and_agree_after_one_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Each shard of a git checkout reads the times committed at HEAD: a shard that ran first in
    the same checkout (its results stored, not committed) changes nothing for the next."""
    times = {"a": 300.0, "b": 10.0, "c": 20.0, "d": 280.0}
    config = engine_project(tmp_path, {name: f"x = {index}\n" for index, name in enumerate(times)})
    git(tmp_path, "init", "-q")
    for name, seconds in times.items():
        commit_result(tmp_path, name, seconds)  # not results the engine accepts: all stale
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "blog")
    ran: dict[str, list[str]] = {}

    def execute_all(self, pending, report):
        ran[shard] = sorted(item.snippet.path.stem for item in pending)
        for name in ran[shard]:  # as a run would: new times, in the working tree only
            commit_result(tmp_path, name, 1.0)

    monkeypatch.setattr(scheduling.Scheduler, "execute_all", execute_all)
    for shard in ("1/2", "2/2"):
        Engine(config, log=lambda line: None).prepare(
            [config.posts_dir / "p.md"], Shard.parse(shard)
        )
    # Longest first to the lighter shard: a (300) | d (280) | c (20) to d's | b (10) to a's.
    # By position, the sorted a, b, c, d would go a, c | b, d.
    assert ran == {"1/2": ["a", "b"], "2/2": ["c", "d"]}
