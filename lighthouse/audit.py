"""Lighthouse scores of two posts of the built site, on a phone and on a desktop.

    python lighthouse/audit.py SITE_DIR [-v] [POST_PATH ...]   (make lighthouse runs it)

Serves SITE_DIR on localhost with gzip (as GitHub Pages serves the blog: text compressed,
`Cache-Control: max-age=600`, 404.html for missing pages), runs the pinned Lighthouse from
lighthouse/node_modules on Debian's Chromium (CHROME_PATH), prints a table of the four
category scores and the failing audits of every category under its target, and exits 1 when
a target is missed (-v: the failing audits of every row). Default posts: the oldest and the
newest. JSON reports go to lighthouse/reports/.

Each page is audited LIGHTHOUSE_RUNS times (5 by default) and the run with the median
performance score is reported, with the range of the runs: a phone's score depends on the
host's CPU (Lighthouse slows it 4x), and one run on a busy 2-core machine varies by ±10 points
(Lighthouse's own advice: the median of several runs).
"""

from __future__ import annotations

import functools
import gzip
import http.server
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
LIGHTHOUSE = HERE / "node_modules" / ".bin" / "lighthouse"
REPORTS = HERE / "reports"
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --disable-background-networking"
CATEGORIES = ("accessibility", "best-practices", "seo", "performance")
RUNS = int(os.environ.get("LIGHTHOUSE_RUNS", "5"))
# Minimum scores (0-100) per form factor; desktop performance is shown, not held to a target.
TARGETS: dict[str, dict[str, int]] = {
    "mobile": {"accessibility": 95, "best-practices": 95, "seo": 100, "performance": 90},
    "desktop": {"accessibility": 95, "best-practices": 95, "seo": 100},
}
COMPRESSIBLE = (
    "text/",
    "application/javascript",
    "application/json",
    "application/xml",
    "image/svg+xml",
    "application/manifest+json",
    "application/rss+xml",
)


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Static files; text ones gzipped when the client accepts it, as a real host would."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "max-age=600")  # GitHub Pages' policy
        super().end_headers()

    def send_head(self) -> Any:
        path = self.file_path()
        if path is None or "gzip" not in self.headers.get("Accept-Encoding", ""):
            return super().send_head()
        body = gzipped(str(path), path.stat().st_mtime_ns)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)  # do_GET copies it to the client

    def file_path(self) -> Path | None:
        """The compressible file this request names, or None (the base class answers)."""
        path = Path(self.translate_path(self.path))
        if path.is_dir() and urlsplit(self.path).path.endswith("/"):
            path = path / "index.html"
        if not path.is_file() or not self.guess_type(str(path)).startswith(COMPRESSIBLE):
            return None
        return path

    def list_directory(self, path: Any) -> None:
        self.send_error(404)  # hosts do not list folders without an index.html

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@functools.lru_cache(maxsize=512)
def gzipped(path: str, mtime_ns: int) -> bytes:
    """The file's bytes gzipped (level 6, like most hosts); cached while the file is unchanged."""
    return gzip.compress(Path(path).read_bytes(), compresslevel=6, mtime=0)


@contextmanager
def serve(site: Path) -> Iterator[str]:
    handler = functools.partial(GzipHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def default_posts(site: Path) -> list[str]:
    """The oldest and the newest post, as paths under the site."""
    posts = sorted(
        p.parent.relative_to(site).as_posix() + "/" for p in site.glob("20*/*/*/*/index.html")
    )
    if not posts:
        sys.exit(f"no posts in {site}: build the site first (make site)")
    return sorted({posts[0], posts[-1]})


def run_lighthouse(url: str, form_factor: str) -> dict[str, Any]:
    """One Lighthouse run's JSON report."""
    command = [
        str(LIGHTHOUSE),
        url,
        "--output=json",
        "--output-path=stdout",
        "--quiet",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={CHROME_FLAGS}",
    ]
    if form_factor == "desktop":
        command.append("--preset=desktop")
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        sys.exit(f"lighthouse failed on {url} ({form_factor}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def median_run(url: str, form_factor: str) -> tuple[dict[str, Any], list[int]]:
    """The report of the run with the median performance score (saved under
    lighthouse/reports/), and every run's score."""
    reports = sorted(
        (run_lighthouse(url, form_factor) for _ in range(RUNS)),
        key=lambda report: scores(report)["performance"],
    )
    median = reports[len(reports) // 2]
    REPORTS.mkdir(exist_ok=True)
    name = urlsplit(url).path.strip("/").replace("/", "_") or "index"
    (REPORTS / f"{name}.{form_factor}.json").write_text(json.dumps(median))
    return median, [scores(r)["performance"] for r in reports]


def scores(report: dict[str, Any]) -> dict[str, int]:
    return {c: round(100 * (report["categories"][c]["score"] or 0)) for c in CATEGORIES}


def failing_audits(report: dict[str, Any], category: str) -> list[str]:
    """The category's audits that did not pass, worst first, as 'id (display value)'. For
    performance, the weighted metrics under 0.9 (they make the score), then the red hints."""
    failing = []
    for ref in report["categories"][category]["auditRefs"]:
        audit = report["audits"][ref["id"]]
        score, mode = audit["score"], audit["scoreDisplayMode"]
        if score is None or mode not in ("binary", "numeric", "metricSavings"):
            continue
        metric = ref.get("weight", 0) > 0
        limit = 0.9 if metric or category != "performance" else 0.5
        if score < limit:
            shown = f" ({audit['displayValue']})" if audit.get("displayValue") else ""
            failing.append((not metric, score, f"{ref['id']}{shown}"))
    return [text for *_, text in sorted(failing)]


def cell(score: int, target: int | None) -> str:
    """'98', or '82 <90' when the score misses its target."""
    return f"{score}" if target is None or score >= target else f"{score} <{target}"


def main(argv: list[str]) -> int:
    if not argv:
        sys.exit(__doc__)
    site = Path(argv[0])
    if not LIGHTHOUSE.exists():
        sys.exit("Lighthouse is not installed: cd lighthouse && npm ci")
    verbose = "-v" in argv[1:]  # the failing audits of every row, not only of missed targets
    posts = [a for a in argv[1:] if a != "-v"] or default_posts(site)
    missed = 0
    print(f"{'page':<60} {'form':<8} " + " ".join(f"{c[:13]:>13}" for c in CATEGORIES))
    with serve(site) as base:
        for post in posts:
            for form_factor, targets in TARGETS.items():
                report, spread = median_run(base + post.lstrip("/"), form_factor)
                got = scores(report)
                cells = [cell(got[c], targets.get(c)) for c in CATEGORIES]
                runs = f"  (runs: {min(spread)}-{max(spread)})" if len(spread) > 1 else ""
                line = f"{post:<60} {form_factor:<8} " + " ".join(f"{c:>13}" for c in cells)
                print(line + runs)
                for category in CATEGORIES:
                    target = targets.get(category, 0)
                    missed += got[category] < target
                    failing = failing_audits(report, category)
                    if got[category] < target or (verbose and failing):
                        print(f"    {category} {got[category]}: " + ", ".join(failing))
    print(f"{missed} target(s) missed" if missed else "all targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
