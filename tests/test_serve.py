"""`mkdocs serve` keeps running when a snippet breaks, shows the error in the page, recovers."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from conftest import MKDOCS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def wait_for(url: str, text: str, server: subprocess.Popen, timeout: float = 90) -> str:
    """Poll `url` until its page contains `text`; fail if the server exits meanwhile."""
    deadline = time.monotonic() + timeout
    page = ""
    while time.monotonic() < deadline:
        assert server.poll() is None, "mkdocs serve exited"
        try:
            page = fetch(url)
        except OSError:
            page = ""
        if text in page:
            return page
        time.sleep(0.5)
    raise AssertionError(f"{text!r} never appeared at {url}; last page:\n{page[-2000:]}")


def test_serve_survives_a_failing_snippet_and_live_reloads(site_project: Path):
    port = free_port()
    env = {**os.environ, "BLOG_EXECUTE": "auto", "NO_MKDOCS_2_WARNING": "1"}
    server = subprocess.Popen(
        [*MKDOCS, "serve", "--livereload", "-a", f"127.0.0.1:{port}"],
        cwd=site_project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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
