"""`make bench-serve`: how long a one-word prose edit takes to reach the page under
`make serve`, on the real site grown to N posts (benchmarks/scale.py grows it; default 200).

It starts `mkdocs serve --livereload` as `make serve` does, waits for the first build, then
edits one post's prose (a marker word appended to its first paragraph), and polls the served
page until the word is there: the seconds from the save to the page, three edits, each time
another word. Goal (issue 27): a prose edit at 200 posts in at most 3 s. (That a snippet edit
re-executes only that snippet is tested: tests/test_serve.py, tests/test_fixture_site.py.)

    .venv/bin/python benchmarks/serve_edit.py [N]      # SERVE_DIRTY=1: `mkdocs serve --dirty`
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import BenchError, base_env, load, machine
from scale import ROOT, configs, grow, prepare

POST = "an-introduction-to-deep-learning.md"
EDITS = 3
FIRST_BUILD_SECONDS = 900
EDIT_SECONDS = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def page_text(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode()
    except OSError:
        return ""


def wait_for(url: str, text: str, server: subprocess.Popen, limit: float) -> float:
    """Seconds until the page at `url` contains `text`."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if server.poll() is not None:
            raise BenchError(f"mkdocs serve exited ({server.returncode})")
        if text in page_text(url):
            return time.perf_counter() - started
        time.sleep(0.05)
    raise BenchError(f"{text!r} did not reach {url} within {limit:.0f} s")


def post_url(root: Path, port: int) -> str:
    text = (root / "posts" / POST).read_text()
    slug = re.search(r"^slug: (.+)$", text, re.M)[1]
    day = re.search(r"^date: (\d{4})-(\d\d)-(\d\d)", text, re.M)
    return f"http://127.0.0.1:{port}/deep-learning-executed/{day[1]}/{day[2]}/{day[3]}/{slug}/"


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 200
    root = ROOT / str(count)
    print("\n".join(machine()))
    print(f"load average before: {load()[0]:.2f}")
    if not (root / "site").is_dir() or len(list((root / "posts").glob("*.md"))) != count:
        grow(root, count)
        configs(root)
        prepare(root)
    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    command = [sys.executable, "-m", "mkdocs", "serve", "--livereload", "-a", f"127.0.0.1:{port}"]
    # MkDocs' own dirty rebuilds, for comparison. On 2026-12-07 they did not start: MkDocs
    # warns that a dirty build is being performed, and `strict: true` aborts on that warning.
    if os.environ.get("SERVE_DIRTY"):
        command.append("--dirty")
    env = base_env(BLOG_EXECUTE="auto")
    server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    post = root / "posts" / POST
    original = post.read_text()
    url = post_url(root, port)
    try:
        first = wait_for(url, "</html>", server, FIRST_BUILD_SECONDS)
        print(f"{count} posts: first build served after {first:.1f} s")
        times = []
        for number in range(EDITS):
            word = f"benchedit{number}x{os.getpid()}"
            text = original.replace("\n\n<!-- more -->", f" {word}\n\n<!-- more -->", 1)
            if word not in text:
                raise BenchError(f"{POST} has no '<!-- more -->' to edit before")
            post.write_text(text)
            times.append(wait_for(url, word, server, EDIT_SECONDS))
            print(f"  prose edit {number + 1}: {times[-1]:.1f} s from save to page")
        print(f"prose_edit_seconds at {count} posts: {sorted(times)[len(times) // 2]:.1f} (median)")
    except BenchError as error:
        log.seek(0)
        said = "\n".join(log.read().splitlines()[-5:])
        print(f"bench-serve: {error}\n--- the server's last lines ---\n{said}", file=sys.stderr)
        return 1
    finally:
        post.write_text(original)
        server.terminate()
        server.wait(timeout=30)
        log.close()
        os.unlink(log.name)
    print(f"load average after: {load()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
