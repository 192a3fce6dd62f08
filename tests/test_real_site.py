"""The real blog builds strictly from its committed results, and every post shows real runs; a
new snippet runs in a real sandboxed kernel through the real configuration."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import MKDOCS, REPO, real_config_project

from dlexec.run import sandbox

RESIDUE = ("Write a technical blog post", "[end of text]", "original plan", "earlier draft")
POSTS = sorted((REPO / "posts").glob("*.md"))


@pytest.fixture
def built_site(real_site: Path) -> Path:
    return real_site


def post_pages(site: Path) -> list[Path]:
    return sorted(site.glob("20*/*/*/*/index.html"))


def article(page: Path) -> BeautifulSoup:
    return BeautifulSoup(page.read_text(), "html.parser").select_one("article")


@pytest.mark.smoke
def test_every_post_is_published_with_a_distinct_title(built_site: Path):
    """With the shared `real_site` build (BLOG_EXECUTE=never, the real mkdocs.yml under
    --strict): the smoke set's build of the real blog."""
    pages = post_pages(built_site)
    assert len(pages) == len(POSTS) >= 5
    titles = [article(page).h1.get_text(strip=True) for page in pages]
    assert len(set(titles)) == len(titles), titles


def test_each_post_notebook_links_to_the_page_the_blog_publishes_it_at(built_site: Path):
    """The notebook says the other backends' outputs are in the page's tabs, and links to the
    page: the engine's reading of Material's post addresses must be the blog's own."""
    from dlexec.sources.posts import read_document
    from dlexec.sources.site import mkdocs_settings, post_page_url

    settings = mkdocs_settings(REPO)
    for post in POSTS:
        document = read_document(post, REPO / "snippets")
        url = post_page_url(settings, document.meta, document.text)
        assert url and url.startswith(settings["site_url"]), post.name
        assert (built_site / url.removeprefix(settings["site_url"]) / "index.html").is_file(), url
        notebook = json.loads((REPO / "notebooks" / f"{post.stem}.ipynb").read_text())
        note = "".join(notebook["cells"][1]["source"])
        assert f"on JAX and PyTorch are on [the post's page]({url})" in note, note


@pytest.mark.parametrize("index", range(len(POSTS)))
def test_post_code_blocks_have_outputs_plots_and_no_placeholders(built_site: Path, index: int):
    page = post_pages(built_site)[index]
    body = article(page)
    code_blocks = body.select("div.highlight")
    assert code_blocks, f"{page}: no code"
    for block in code_blocks:
        # Under every code block, its outputs in one tab per backend, each from that
        # backend's own run (issue 25): no tab says a run is missing.
        tabs = block.find_next_sibling()
        where = f"{page}: code block {block.get_text()[:60]!r}"
        assert tabs is not None and "dlexec-backends" in tabs.get("class", []), where
        labels = [label.get_text() for label in tabs.select(".tabbed-labels > label")]
        assert [label.split()[0] for label in labels] == ["TensorFlow", "JAX", "PyTorch"], where
        outputs = tabs.select(".tabbed-content > .tabbed-block > div.dlexec-outputs")
        assert len(outputs) == 3 and not tabs.select(".dlexec-note"), where
        code = block.get_text()
        assert "# %%" not in code and "# data:" not in code, f"{page}: build-only lines shown"
    # Where and how a snippet ran is said once, under its last embed: one line per snippet
    # and backend, in that backend's tab.
    titles = {span.get_text() for span in body.select("div.highlight span.filename")}
    snippets = {title.split(" › ")[0] for title in titles}
    assert len(body.select(".dlexec-provenance")) == 3 * len(snippets), page
    assert body.select("figure.dlexec-curves img"), f"{page}: no training-curve plot"
    text = body.get_text()
    assert "{{" not in text and "}}" not in text, f"{page}: unrendered placeholder"
    assert not body.select(".dlexec-error"), f"{page}: an error is shown"
    for residue in RESIDUE:
        assert residue not in text, f"{page}: generation residue {residue!r}"


def test_run_pages_are_published_but_left_out_of_search(built_site: Path):
    """Each snippet's full run has its page, but search finds the posts: the run pages repeat
    their code and outputs, and outranked them."""
    runs = sorted(built_site.glob("runs/*/index.html"))
    assert runs
    for run in runs:
        page = BeautifulSoup(run.read_text(), "html.parser")
        assert "The full run of" in page.get_text()
        # It proves the run: numbered cells, and a way back to the post that shows it.
        prompts = [p.get_text() for p in page.select(".jp-InputPrompt") if p.get_text().strip()]
        assert prompts and all(p.startswith("In\xa0[") and "[\xa0]" not in p for p in prompts)
        back = page.select_one("article .dlexec-back a")
        assert back is not None and (run.parent / back["href"] / "index.html").resolve().is_file()
    index = json.loads((built_site / "search" / "search_index.json").read_text())
    locations = [doc["location"] for doc in index["docs"]]
    assert not [location for location in locations if location.startswith("runs/")]
    posts = {location.split("#")[0] for location in locations if location.startswith("20")}
    assert len(posts) == len(POSTS)  # every post is searchable


PROBE_POST = """---
date: 2026-01-05
slug: smoke-probe
---
# Smoke probe

The kernel answered {{ smoke_probe.answer }} on {{ smoke_probe.host }}.

<!-- more -->

Beside the math $x^2$ stands the label {{ smoke_probe.label }}, as printed.

[The probe](../snippets/smoke_probe.py)
"""
# Every character that is syntax for Markdown, its extensions (math: `\\(` and `$`) or HTML.
LABEL = r"accuracy (test set) [x](javascript:alert(1)) $5 \(y\) * _a_ <b> {: .c} `z` |t| :smile:"
PROBE = (
    "# %% probe\nimport socket\n\nanswer = 6 * 7\nhost = socket.gethostname()\nprint('probe ok')\n"
    f"label = {LABEL!r}\n"
)


@pytest.mark.smoke
@pytest.mark.kernel
@pytest.mark.build
def test_a_new_snippet_runs_sandboxed_through_the_real_config(tmp_path: Path):
    """The smoke test of `make test`: the real mkdocs.yml (strict), its hooks, theme overrides
    and plugins build a post whose snippet runs in a real kernel inside bubblewrap. Only the
    probe post is copied, so the build stays short; `real_site` covers the real posts."""
    if sandbox.probe() is not None:
        pytest.skip(f"the sandbox cannot run here ({sandbox.probe()}); .ci/run installs it")
    project = real_config_project(
        tmp_path / "real", ("smoke-probe.md", PROBE_POST), ("smoke_probe.py", PROBE)
    )
    env = {**os.environ, "BLOG_EXECUTE": "auto", "BLOG_SANDBOX": "on", "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run(
        [*MKDOCS, "build", "--strict"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    assert "snippets: 1 executed, 0 reused, 0 failed" in built.stderr
    page = (project / "site" / "2026" / "01" / "05" / "smoke-probe" / "index.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "The kernel answered 42 on sandbox." in text  # bubblewrap's --hostname
    assert "probe ok" in text
    assert f"stands the label {LABEL}, as printed." in text  # no math, link, markup or emoji
    assert page.count('class="katex"') == 1  # the post's own $x^2$, nothing of the label
    assert not re.search(r"(href|src)\s*=\s*[\"']?\s*javascript", page, re.IGNORECASE)
    notebook = (project / "notebooks" / "smoke-probe.ipynb").read_text()
    assert "javascript&#58;alert" in notebook and "javascript&amp;#58;" not in notebook
