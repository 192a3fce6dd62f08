"""`make bench-serve`: how long an edit takes to reach the page under `make serve`, on the
real site grown to N posts (benchmarks/scale.py grows it; default 200).

It starts `mkdocs serve --livereload` as `make serve` does and waits for the first build (caches
cold: the grown site is made afresh each time).
Prose: it edits one post (a marker word appended to its first paragraph, above the excerpt
marker, so the blog's index, archive and category pages change too) and polls the served
page until the word is there: the seconds from the save to the page, three edits, each with
another word. Goal (issue 27): at most 3 s at 200 posts. The server's log says whether each
save was a quick rebuild (src/dlexec/adapter/quick_rebuild.py) or a full one.
Snippet: it appends a print to a snippet every copy of one post embeds and polls that post's
page for what it prints: the seconds from the save to the page, and how many snippets the
rebuild executed (the engine's summary line in the server's log; exactly one is right). The
snippet and its results are put back afterwards.

    .venv/bin/python benchmarks/serve_edit.py [N]      # SERVE_DIRTY=1: `mkdocs serve --dirty`
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import BenchError, base_env, load, machine
from scale import ROOT, grow

POST = "an-introduction-to-deep-learning.md"
# The quickest snippet of the blog (16 s), and a post that shows its last print.
SNIPPET, SNIPPET_POST = "mnist_dense.py", "deep-learning-key-concepts-in-practice.md"
EDITS = 3
GOAL_SECONDS = 3.0
FIRST_BUILD_SECONDS = 900
EDIT_SECONDS = 300
SNIPPET_SECONDS = 900


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


def post_url(root: Path, port: int, name: str) -> str:
    text = (root / "posts" / name).read_text()
    slug = re.search(r"^slug: (.+)$", text, re.M)[1]
    day = re.search(r"^date: (\d{4})-(\d\d)-(\d\d)", text, re.M)
    return f"http://127.0.0.1:{port}/deep-learning-executed/{day[1]}/{day[2]}/{day[3]}/{slug}/"


def prose_edits(root: Path, port: int, server: subprocess.Popen, log: Path) -> list[float]:
    """Seconds from each prose edit's save to the page showing it."""
    post = root / "posts" / POST
    original = post.read_text()
    url = post_url(root, port, POST)
    times = []
    try:
        for number in range(EDITS):
            word = f"benchedit{number}x{os.getpid()}"
            text = original.replace("\n\n<!-- more -->", f" {word}\n\n<!-- more -->", 1)
            if word not in text:
                raise BenchError(f"{POST} has no '<!-- more -->' to edit before")
            post.write_text(text)
            times.append(wait_for(url, word, server, EDIT_SECONDS))
            how = "quick" if rebuilds(log)[-1] == "quick" else "full"
            print(f"  prose edit {number + 1}: {times[-1]:.2f} s from save to page ({how} rebuild)")
    finally:
        post.write_text(original)
    return times


def snippet_edit(root: Path, port: int, server: subprocess.Popen, log: Path) -> None:
    """A print appended to a snippet: seconds to the page, and what the rebuild executed."""
    snippet = root / "snippets" / SNIPPET
    results = root / "results" / snippet.stem
    kept = Path(tempfile.mkdtemp()) / results.name
    shutil.copytree(results, kept)
    original = snippet.read_text()
    word = f"benchsnippet{os.getpid()}"
    try:
        snippet.write_text(f'{original}print("{word}")\n')
        seconds = wait_for(post_url(root, port, SNIPPET_POST), word, server, SNIPPET_SECONDS)
        executed = [int(n) for n in re.findall(r"snippets: (\d+) executed", log.read_text())]
        print(
            f"  snippet edit ({SNIPPET}): {seconds:.1f} s from save to page; "
            f"snippets executed by that rebuild: {executed[-1]}"
        )
        if executed[-1] != 1:
            raise BenchError(f"the snippet edit executed {executed[-1]} snippets, not 1")
    finally:
        snippet.write_text(original)
        shutil.rmtree(results)
        shutil.copytree(kept, results)
        shutil.rmtree(kept.parent)


def rebuilds(log: Path) -> list[str]:
    """Each rebuild the server ran after its first build, in order: 'quick' or 'full'."""
    lines = log.read_text().splitlines()
    started = next(i for i, line in enumerate(lines) if "Serving on" in line)
    return [
        "quick" if "quick rebuild:" in line else "full"
        for line in lines[started:]
        if "quick rebuild:" in line or "Building documentation" in line
    ]


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 200
    root = ROOT / str(count)
    print("\n".join(machine()))
    print(f"load average before: {load()[0]:.2f}")
    grow(root, count)  # afresh: the copies of hooks/, docs/ and posts/ are the repository's
    port = free_port()
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    command = [sys.executable, "-m", "mkdocs", "serve", "--livereload", "-a", f"127.0.0.1:{port}"]
    # MkDocs' own dirty rebuilds, for comparison. On 2026-12-07 they did not start: MkDocs
    # warns that a dirty build is being performed, and `strict: true` aborts on that warning.
    if os.environ.get("SERVE_DIRTY"):
        command.append("--dirty")
    env = base_env(BLOG_EXECUTE="auto")
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=root, env=env, stdout=output, stderr=output)
    try:
        first = wait_for(post_url(root, port, POST), "</html>", server, FIRST_BUILD_SECONDS)
        print(f"{count} posts: first build served after {first:.1f} s")
        times = prose_edits(root, port, server, log)
        median = sorted(times)[len(times) // 2]
        print(f"prose_edit_seconds at {count} posts: {median:.2f} (median; goal: at most 3)")
        snippet_edit(root, port, server, log)
    except BenchError as error:
        said = "\n".join(log.read_text().splitlines()[-5:])
        print(f"bench-serve: {error}\n--- the server's last lines ---\n{said}", file=sys.stderr)
        return 1
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.unlink()
    print(f"load average after: {load()[0]:.2f}")
    return 0 if median <= GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
