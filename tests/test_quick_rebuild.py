"""Under `mkdocs serve`, a prose edit re-renders only the post and what lists it, and leaves the
site exactly as a full build of the edited sources would (pages, search index, feeds,
notebook); anything more than prose runs the full build."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO, refs

from dlexec.adapter.quick_rebuild import Inputs, LastBuild, QuickRebuild
from dlexec.adapter.serving import Serving
from dlexec.build.report import BuildReport
from dlexec.build.revisions import prose_revision
from dlexec.config import EngineConfig
from dlexec.errors import AuthoringError, Location

POST_TEXT = """---
date: 2026-01-05
description: A post.
---

# A post

Some prose. {{ s.x:.2f }} more prose.

[Train](../snippets/s.py#train)

Closing prose.
"""


def report_of(project: Path, text: str = POST_TEXT) -> BuildReport:
    document = refs(project, text)
    return BuildReport(posts={document.post: document})


@pytest.mark.parametrize(
    "old, new",
    [
        ("Some prose.", "Some other prose,\nover two lines."),
        ("Closing prose.", "Closing prose, then a [link](https://example.org)."),
        ("# A post\n", "# A post\n\nA new paragraph above everything.\n"),
    ],
)
def test_prose_alone_is_a_revision(project: Path, old: str, new: str):
    report = report_of(project)
    post = project / "posts" / "p.md"
    post.write_text(POST_TEXT.replace(old, new))
    revised = prose_revision(report, post, project / "snippets")
    assert revised is not None and new in revised.text
    assert [e.snippet for e in revised.embeds] == [e.snippet for e in report.posts[post].embeds]


@pytest.mark.parametrize(
    "old, new",
    [
        ("description: A post.", "description: Another post."),  # front matter
        ("date: 2026-01-05\n", "date: 2026-01-05\n# a comment\n"),  # its text, even so
        ("[Train](../snippets/s.py#train)", "[Train](../snippets/s.py)"),  # another embed
        ("Closing prose.", "[Again](../snippets/s.py#train)"),  # one more embed
        ("{{ s.x:.2f }}", "{{ s.x:.3f }}"),  # another format
        ("{{ s.x:.2f }}", "{{ s.y:.2f }}"),  # another value
        ("more prose.", "more prose {{ s.x }}."),  # one more placeholder
    ],
)
def test_anything_but_prose_needs_the_full_build(project: Path, old: str, new: str):
    report = report_of(project)
    post = project / "posts" / "p.md"
    post.write_text(POST_TEXT.replace(old, new))
    assert prose_revision(report, post, project / "snippets") is None


def test_a_post_with_an_error_or_unknown_to_the_build_needs_the_full_build(project: Path):
    report = report_of(project)
    post = project / "posts" / "p.md"
    report.errors.append(AuthoringError("no such value", Location(post, 7)))
    assert prose_revision(report, post, project / "snippets") is None
    other = project / "posts" / "new.md"  # a new post
    other.write_text(POST_TEXT)
    assert prose_revision(report_of(project), other, project / "snippets") is None
    report = report_of(project)
    post.unlink()  # a post removed
    assert prose_revision(report, post, project / "snippets") is None


def test_inputs_see_changes_to_sources_not_to_outputs_or_hidden_files(tmp_path: Path):
    for name in ("posts/a.md", "posts/b.md", "site/index.html", ".cache/x", "posts/.a.md.swp"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("1")
    before = Inputs.scan(tmp_path, [tmp_path / "site"])
    (tmp_path / "posts" / "a.md").write_text("22")
    (tmp_path / "posts" / "b.md").unlink()
    (tmp_path / "posts" / "c.md").write_text("3")
    for name in ("site/index.html", ".cache/x", "posts/.a.md.swp", "posts/a.md~"):
        (tmp_path / name).write_text("changed")
    after = Inputs.scan(tmp_path, [tmp_path / "site"])
    assert after.changed_since(before) == {tmp_path / "posts" / n for n in ("a.md", "b.md", "c.md")}
    assert after.changed_since(after) == set()


class Calls:
    def __init__(self) -> None:
        self.full = 0

    def count_full(self) -> None:
        self.full += 1


EDITED = Inputs({Path("/p/a.md"): (2, 1)})  # /p/a.md written again since `finished_build`


def quick_rebuild(calls: Calls, last: LastBuild, revise, inputs: Inputs = EDITED) -> QuickRebuild:
    return QuickRebuild(
        full=calls.count_full,
        last=lambda: last,
        revise=revise,
        refresh_notebook=lambda post, files: None,
        scan=lambda: inputs,
    )


def finished_build() -> LastBuild:
    built = object()
    return LastBuild(built, built, built, built, Inputs({Path("/p/a.md"): (1, 1)}))


def test_the_builder_falls_back_to_the_full_build(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("dlexec.adapter.quick_rebuild.rerender", lambda *args: True)
    calls = Calls()
    quick_rebuild(calls, LastBuild(), lambda changed: [Path("/p/a.md")])()  # no build yet
    assert calls.full == 1
    quick_rebuild(calls, finished_build(), lambda changed: None)()  # not prose alone
    assert calls.full == 2
    same = Inputs({Path("/p/a.md"): (1, 1)})
    quick_rebuild(calls, finished_build(), lambda changed: [Path("/p/a.md")], same)()
    assert calls.full == 3  # nothing it can see changed: something it does not read did


def test_a_failed_or_insufficient_quick_rebuild_runs_the_full_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    calls, last = Calls(), finished_build()

    def fails(*args):
        raise KeyError("views")

    monkeypatch.setattr("dlexec.adapter.quick_rebuild.rerender", fails)
    quick_rebuild(calls, last, lambda changed: [Path("/p/a.md")])()
    assert calls.full == 1 and "quick rebuild failed (KeyError" in caplog.text
    assert not last.complete()  # half re-rendered: never the start of another quick one
    monkeypatch.setattr("dlexec.adapter.quick_rebuild.rerender", lambda *args: False)
    quick_rebuild(calls, finished_build(), lambda changed: [Path("/p/a.md")])()
    assert calls.full == 2


def test_a_quick_rebuild_is_the_start_of_the_next(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("dlexec.adapter.quick_rebuild.rerender", lambda *args: True)
    calls, last = Calls(), finished_build()
    seen = []
    quick_rebuild(calls, last, lambda changed: seen.append(changed) or [Path("/p/a.md")])()
    assert calls.full == 0 and seen == [{Path("/p/a.md")}]
    assert last.inputs == EDITED and last.complete()


DRIVER = Path(__file__).with_name("serve_builds.py")
PROJECT = (
    "mkdocs.yml",
    "pyproject.toml",
    "docs",
    "overrides",
    "hooks",
    "posts",
    "snippets",
    "results",
    "notebooks",
)
POST = "posts/an-introduction-to-deep-learning.md"
# Prose above the excerpt marker (the post page, index, archive and category pages, search,
# notebook) and far below it (the post page, search and notebook only).
PROSE_EDITS = [
    (POST, "\n\n<!-- more -->", " Quickedit-above-the-marker.\n\n<!-- more -->"),
    (POST, "Common activation functions include", "Quickedit-below: common ones include"),
]
TITLE_EDIT = (POST, "# An Introduction to Deep Learning", "# Deep Learning, Introduced")


def feed_items(feed: bytes) -> bytes:
    """An "updated" feed's items in a fixed order: the feed orders posts by when the build saw
    each change (a full build: when it read them), so only which items it holds is compared."""
    if feed.lstrip().startswith(b"{"):
        items = json.loads(feed)["items"]
        return json.dumps(sorted(items, key=lambda item: item["id"])).encode()
    return b"".join(sorted(re.findall(rb"<item>.*?</item>", feed, re.S)))


def build_times() -> re.Pattern[bytes]:
    """Today's times as the feeds write them (when the feed was built, when a post's file was
    last written): they depend on when files were copied and built, not on the sources."""
    now = datetime.now(UTC)
    iso = rb"\d\d:\d\d:\d\d(?:\.\d+)?\+00:00"
    rfc = rb"\d\d:\d\d:\d\d [-+]0000"
    return re.compile(
        re.escape(now.strftime("%Y-%m-%dT").encode())
        + iso
        + b"|"
        + re.escape(now.strftime("%a, %d %b %Y ").encode())
        + rfc
    )


def copy_project(target: Path) -> Path:
    target.mkdir()
    for part in PROJECT:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / part)
    return target


def drive(*args: str | Path) -> list[dict]:
    run = subprocess.run(
        [sys.executable, str(DRIVER), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BLOG_EXECUTE": "auto", "NO_MKDOCS_2_WARNING": "1"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]


def files_of(site: Path) -> dict[str, bytes]:
    times = build_times()
    files = {}
    for path in sorted(site.rglob("*")):
        if path.is_file():
            content = times.sub(b"<time>", path.read_bytes())
            if path.name.startswith("feed_") and "_updated" in path.name:
                content = feed_items(content)
            files[path.relative_to(site).as_posix()] = content
    return files


def test_the_terminal_says_what_made_a_full_rebuild(
    site_project: Path, caplog: pytest.LogCaptureFixture
):
    adapter = SimpleNamespace(config=EngineConfig.load(site_project), report=BuildReport())
    changed = {site_project / "snippets" / "tiny.py", site_project / "posts" / "tiny.md"}
    with caplog.at_level(logging.INFO, logger="mkdocs.plugins.dlexec"):
        assert Serving(adapter).revise(changed) is None
    assert "full rebuild: posts/tiny.md, snippets/tiny.py changed beyond prose" in caplog.text


@pytest.mark.build
def test_a_prose_edit_rebuilds_quickly_to_what_a_full_build_makes(tmp_path: Path):
    edited = copy_project(tmp_path / "edited")
    for name, old, new in PROSE_EDITS:
        (edited / name).write_text((edited / name).read_text().replace(old, new, 1))
    drive("full", edited, tmp_path / "reference")
    reference = files_of(tmp_path / "reference")

    served = copy_project(tmp_path / "served")
    edits = [*PROSE_EDITS[:-1], (*PROSE_EDITS[-1], str(tmp_path / "quick")), TITLE_EDIT]
    (tmp_path / "edits.json").write_text(json.dumps(edits))
    rebuilds = drive("edits", served, tmp_path / "site", tmp_path / "edits.json")

    assert [r["full_builds"] for r in rebuilds] == [0, 0, 1]  # the title edit builds all
    quick = files_of(tmp_path / "quick")
    assert quick.keys() == reference.keys()
    differ = [name for name in reference if quick[name] != reference[name]]
    assert differ == []
    # The edit reached every page that shows it (a rebuild that changed nothing would fail
    # above; this says where it was seen).
    shown = {name for name, content in quick.items() if b"Quickedit-above" in content}
    assert {
        "2026/11/05/an-introduction-to-deep-learning/index.html",
        "search/search_index.json",
    } <= shown
    assert any(name.startswith("archive/") for name in shown)
    assert any(name.startswith("category/") for name in shown)
    assert "notebooks/an-introduction-to-deep-learning.ipynb" in shown
