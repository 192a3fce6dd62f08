"""The real blog builds strictly from its committed results: they must be fresh."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import REPO, mkdocs_build


def test_committed_results_are_fresh_and_site_builds(tmp_path: Path):
    built = mkdocs_build(REPO, "never", "--site-dir", str(tmp_path / "site"))
    assert built.returncode == 0, built.stderr
    assert re.search(r"snippets: 0 executed, \d+ reused, 0 failed", built.stderr)
    posts = list((tmp_path / "site").glob("20*/*/*/*/index.html"))
    assert len(posts) == len(list((REPO / "posts").glob("*.md")))
    for page in posts:
        html = page.read_text()
        assert "dlexec-outputs" in html and "curves-" in html, page
        assert "{{" not in html.split("<article", 1)[-1].split("</article>")[0], page
