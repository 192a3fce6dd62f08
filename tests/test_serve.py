"""`mkdocs serve` keeps running when a snippet breaks, shows the error in the page, recovers."""

from __future__ import annotations

import os
import socket
import subprocess
import urllib.request
from datetime import date
from pathlib import Path

import pytest
from conftest import MKDOCS, real_config_project, wait_until

pytestmark = [pytest.mark.build, pytest.mark.kernel]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def wait_for(url: str, text: str, server: subprocess.Popen, timeout: float = 90) -> str:
    """The page at `url` once it contains `text`; fail if the server exits meanwhile."""
    last = [""]

    def shows() -> str | None:
        assert server.poll() is None, "mkdocs serve exited"
        try:
            last[0] = fetch(url)
        except OSError:
            last[0] = ""
        return last[0] if text in last[0] else None

    return wait_until(
        shows, timeout, lambda: f"{text!r} never appeared at {url}; last page:\n{last[0][-2000:]}"
    )


def serve(project: Path, log: Path | None = None) -> tuple[subprocess.Popen, int]:
    """`mkdocs serve` of `project` on a free port, as `make serve` runs it (what it prints
    goes to `log`, if given)."""
    port = free_port()
    env = {**os.environ, "BLOG_EXECUTE": "auto", "NO_MKDOCS_2_WARNING": "1"}
    with open(log or os.devnull, "w") as output:
        server = subprocess.Popen(
            [*MKDOCS, "serve", "--livereload", "-a", f"127.0.0.1:{port}"],
            cwd=project,
            env=env,
            stdout=output,
            stderr=output,
        )
    return server, port


def test_serve_survives_a_failing_snippet_and_live_reloads(built_site_project: Path):
    site_project = built_site_project  # built: the first page needs no run
    server, port = serve(site_project)
    url = f"http://127.0.0.1:{port}/2026/01/01/a-tiny-post/"
    try:
        page = wait_for(url, "The model saw 64 samples.", server)
        assert "livereload" in page
        snippet = site_project / "snippets" / "tiny.py"
        original = snippet.read_text()
        snippet.write_text(original.replace("n_samples = len(x)", "n_samples = len(x) / 0"))
        page = wait_for(url, "ZeroDivisionError", server)
        assert "dlexec-error" in page and "tiny.py:8" in page
        snippet.write_text(original)
        wait_for(url, "The model saw 64 samples.", server)
    finally:
        server.terminate()
        server.wait(timeout=30)


PROBE_POST = """---
date: 2026-01-05
slug: serve-probe
---
# Serve probe

Probe value: {{ serve_probe.answer }}.

<!-- more -->

[The probe](../snippets/serve_probe.py)
"""
PROBE_OK = "# %% probe\nanswer = 6 * 7\nprint('probe ok', answer)\n"


@pytest.fixture
def real_copy(tmp_path: Path) -> Path:
    """The real site's configuration (its mkdocs.yml with `strict: true`, hooks, theme and
    docs; not its posts, which only make each rebuild longer), plus a probe post whose snippet
    the test breaks and fixes."""
    return real_config_project(
        tmp_path / "real", ("serve-probe.md", PROBE_POST), ("serve_probe.py", PROBE_OK)
    )


def test_serve_with_the_real_config_survives_every_breakage_and_recovers(real_copy: Path):
    """`strict: true` aborts a failed rebuild and MkDocs then stops answering; with the hook,
    every kind of breakage shows in the page and the next save recovers it."""
    assert "strict: true" in (real_copy / "mkdocs.yml").read_text()
    log = real_copy.parent / "serve.log"
    server, port = serve(real_copy, log)
    base = f"http://127.0.0.1:{port}/deep-learning-executed/"
    url = f"{base}2026/01/05/serve-probe/"
    snippet = real_copy / "snippets" / "serve_probe.py"
    post = real_copy / "posts" / "serve-probe.md"
    breakages = [
        (
            snippet,
            PROBE_OK.replace("6 * 7", "6 / 0"),
            ["ZeroDivisionError", "snippets/serve_probe.py:2"],
        ),
        (
            snippet,
            "# ---\n# timeout: 2\n# ---\n# %% probe\nwhile True:\n    pass\n",
            ["time limit of 2 s"],
        ),
        (snippet, "# %% probe\nimport os\nos._exit(3)\n", ["exited with code 3"]),
        (
            post,
            PROBE_POST.replace("serve_probe.py)", "serve_probe.py#nope)"),
            ["no cell named", "posts/serve-probe.md:11"],
        ),
        (
            post,
            PROBE_POST.replace("answer }}", "missing }}"),
            ["has no value", "posts/serve-probe.md:7"],
        ),
    ]
    try:
        wait_for(url, "probe ok", server, timeout=180)
        # Prose alone: the post and the index that shows its excerpt, without a full build;
        # the full rebuilds below start from what it left.
        post.write_text(PROBE_POST.replace("Probe value:", "Edited probe value:"))
        wait_for(url, "Edited probe value", server)
        assert "Edited probe value" in fetch(base)
        quick = "dlexec: quick rebuild: serve-probe.md"
        wait_until(lambda: quick in log.read_text(), 10, lambda: log.read_text()[-2000:])
        rebuilds = [
            line
            for line in log.read_text().splitlines()
            if "Building documentation" in line or "quick rebuild" in line
        ]
        assert quick in rebuilds[-1]  # the edit did not build the whole site
        post.write_text(PROBE_POST)
        wait_for(url, "Probe value", server)
        for path, broken, shown in breakages:
            original = path.read_text()
            path.write_text(broken)
            page = wait_for(url, shown[0], server)
            assert "dlexec-error" in page
            for text in shown[1:]:
                assert text in page
            # The project's paths only: a published page never names the build machine's folders.
            assert str(real_copy) not in page
            path.write_text(original)
            wait_for(url, "probe ok", server)
        # Front matter the blog plugin rejects: a stand-in page explains, then the post is back.
        post.write_text(PROBE_POST.replace("date: 2026-01-05", "date: [2026"))
        stand_in = f"{base}{date.today():%Y/%m/%d}/serve-probe/"
        page = wait_for(stand_in, "cannot be built", server)
        assert "malformed front matter" in page, page
        assert "posts/serve-probe.md:3" in page  # where YAML found the problem
        assert str(real_copy) not in page
        post.write_text(PROBE_POST)
        wait_for(url, "probe ok", server)
        # Valid YAML the blog plugin still rejects: an author missing from .authors.yml.
        post.write_text(
            PROBE_POST.replace("slug: serve-probe", "slug: serve-probe\nauthors: [nobody]")
        )
        page = wait_for(stand_in, "unknown author", server)
        assert "nobody" in page
        post.write_text(PROBE_POST)
        wait_for(url, "probe ok", server)
        # Every full rebuild lists each post once in the feeds (the RSS plugin alone adds them
        # all again on each rebuild of one server).
        assert fetch(f"{base}feed_rss_created.xml").count("<item>") == 1
    finally:
        server.terminate()
        server.wait(timeout=30)


OTHER_POST = "---\ndate: 2026-01-02\nslug: other\n---\n# Other\n\nAlso {{ tiny.n_samples }}.\n"


@pytest.mark.alone  # its stand-in page waits on a rebuild: no competing kernels
def test_serve_isolates_a_post_it_cannot_read(built_site_project: Path):
    """A post saved with bytes that are not UTF-8, then replaced by a folder: it shows its own
    error page (file, line, byte offset); the other post keeps its outputs; restoring the file
    recovers on that event."""
    project = built_site_project
    other = project / "posts" / "other.md"
    other.write_text(OTHER_POST)
    server, port = serve(project)
    base = f"http://127.0.0.1:{port}/"
    tiny, other_url = f"{base}2026/01/01/a-tiny-post/", f"{base}2026/01/02/other/"
    stand_in = f"{base}{date.today():%Y/%m/%d}/other/"
    try:
        wait_for(other_url, "Also 64.", server)
        other.write_bytes(OTHER_POST.encode().replace(b"Also", b"Al\xffso"))
        page = wait_for(stand_in, "cannot be built", server)
        assert "posts/other.md:7" in page and "byte 0xff at byte offset 48" in page, page
        assert "The model saw 64 samples." in wait_for(tiny, "samples:", server)
        other.unlink()
        other.mkdir()
        page = wait_for(stand_in, "this is a folder", server)
        assert "The model saw 64 samples." in fetch(tiny)
        other.rmdir()
        other.write_text(OTHER_POST)
        wait_for(other_url, "Also 64.", server)
        assert "The model saw 64 samples." in fetch(tiny)
    finally:
        server.terminate()
        server.wait(timeout=30)
