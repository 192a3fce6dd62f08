"""Notebook pages (mkdocs-jupyter) are converted once and then reused from .cache until the
notebook changes, stay out of the search index, and a warm build's hook path does not import
the heavy libraries it only needs when something runs or is converted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, mkdocs_build

import dlexec.adapter.page_cache as page_cache
from dlexec.adapter.page_cache import PageCache, conversion_key

CONFIG = """site_name: Notebook pages
docs_dir: docs
site_dir: site
theme:
  name: material
plugins:
  - search
  - mkdocs-jupyter:
      include: ["*.ipynb"]
      ignore: ["*.md"]
      cache: false
      include_source: true
hooks:
  - {hook}
"""
CONVERTING = "Converting notebook"


# A snippet's HTML output may carry its own styles: they stay in the notebook.
OWN_STYLE = "<style>.own-style { color: teal }</style><b class='own-style'>table</b>"


def write_notebook(path: Path, printed: str) -> None:
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# The full run of a tiny snippet\n\nRan on CPU"),
            nbformat.v4.new_code_cell("print(answer)"),
        ]
    )
    notebook.cells[1].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=printed),
        nbformat.v4.new_output("display_data", data={"text/html": OWN_STYLE}),
    ]
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


@pytest.fixture
def notebook_site(tmp_path: Path) -> Path:
    project = tmp_path / "site-project"
    (project / "docs").mkdir(parents=True)
    (project / "docs" / "index.md").write_text("# Home\n\nThe posts live here.\n")
    hook = (REPO / "hooks" / "notebook_pages.py").as_posix()
    (project / "mkdocs.yml").write_text(CONFIG.format(hook=hook))
    write_notebook(project / "docs" / "runs" / "tiny.ipynb", "printed 42\n")
    return project


def entries(project: Path) -> list[Path]:
    return sorted((project / ".cache" / "notebook-pages").glob("*.json"))


def page(project: Path) -> str:
    return (project / "site" / "runs" / "tiny" / "index.html").read_text()


@pytest.mark.build
def test_a_notebook_page_is_converted_once_then_reused_until_it_changes(notebook_site: Path):
    first = mkdocs_build(notebook_site)
    assert first.returncode == 0, first.stderr
    assert first.stderr.count(CONVERTING) == 1
    [entry] = entries(notebook_site)
    html = page(notebook_site)
    assert "printed 42" in html
    assert "<title>The full run of a tiny snippet" in html  # title from the notebook's h1
    assert "notebook page:" not in html  # the stand-in content was replaced

    second = mkdocs_build(notebook_site)
    assert second.returncode == 0, second.stderr
    assert CONVERTING not in second.stderr  # nbconvert did not run
    assert entries(notebook_site) == [entry]
    assert page(notebook_site) == html  # the cached conversion gives the same page

    write_notebook(notebook_site / "docs" / "runs" / "tiny.ipynb", "printed 43\n")
    third = mkdocs_build(notebook_site)
    assert third.returncode == 0, third.stderr
    assert third.stderr.count(CONVERTING) == 1
    assert "printed 43" in page(notebook_site) and "printed 42" not in page(notebook_site)
    [new_entry] = entries(notebook_site)  # the old entry is evicted
    assert new_entry != entry


@pytest.mark.build
def test_the_converters_styles_are_one_stylesheet_and_the_notebooks_own_stay(notebook_site: Path):
    built = mkdocs_build(notebook_site)
    assert built.returncode == 0, built.stderr
    html = page(notebook_site)
    content = html.index('<article class="md-content__inner md-typeset">')
    wrapper = html.index('<div class="jupyter-wrapper">')
    notebook_end = html.index("<!-- jupyter-wrapper -->")
    assert "<style" not in html[content:wrapper] and "<style" not in html[notebook_end:]
    assert ".own-style { color: teal }" in html[wrapper:notebook_end]
    [href] = re.findall(r'<link rel="stylesheet" href="([^"]*notebook-[0-9a-f]{16}\.css)">', html)
    stylesheet = (notebook_site / "site" / "runs" / "tiny" / href).resolve()
    css = stylesheet.read_text()
    assert ".jupyter-wrapper{" in css and ".highlight-ipynb" in css  # the converter's CSS
    assert len(html) < 200_000 < len(css)  # the page no longer carries 0.6 MB of CSS
    [stored] = (notebook_site / ".cache" / "notebook-pages").glob("*.css")
    assert stored.read_bytes() == stylesheet.read_bytes()

    again = mkdocs_build(notebook_site)  # from the cache: the same page, the stylesheet published
    assert again.returncode == 0 and CONVERTING not in again.stderr
    assert page(notebook_site) == html and stylesheet.read_text() == css

    stored.unlink()  # an entry whose stylesheet is gone is converted again
    rebuilt = mkdocs_build(notebook_site)
    assert rebuilt.returncode == 0 and rebuilt.stderr.count(CONVERTING) == 1
    assert page(notebook_site) == html and stored.is_file()


@pytest.mark.build
def test_a_truncated_cache_entry_is_converted_again(notebook_site: Path):
    assert mkdocs_build(notebook_site).returncode == 0
    html = page(notebook_site)
    [entry] = entries(notebook_site)
    content = entry.read_bytes()
    entry.write_bytes(content[: len(content) // 2])  # as if a build had died mid-write
    rebuilt = mkdocs_build(notebook_site)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stderr.count(CONVERTING) == 1
    assert entry.read_bytes() == content and page(notebook_site) == html


@pytest.mark.build
def test_notebook_pages_are_not_in_the_search_index(notebook_site: Path):
    built = mkdocs_build(notebook_site)
    assert built.returncode == 0, built.stderr
    index = json.loads((notebook_site / "site" / "search" / "search_index.json").read_text())
    locations = [doc["location"] for doc in index["docs"]]
    assert "" in locations  # the home page is searchable
    assert not [location for location in locations if location.startswith("runs/")]
    assert (notebook_site / "site" / "runs" / "tiny" / "tiny.ipynb").is_file()  # still published


# -- the cache itself ---------------------------------------------------------------------------


def test_the_key_covers_notebook_settings_and_converter_versions(monkeypatch):
    key = conversion_key(b"{}", {"theme": ""})
    assert key == conversion_key(b"{}", {"theme": ""})
    assert key != conversion_key(b"{ }", {"theme": ""})
    assert key != conversion_key(b"{}", {"theme": "dark"})
    monkeypatch.setattr(page_cache, "version", lambda package: "999")
    page_cache.converter_versions.cache_clear()
    try:
        assert key != conversion_key(b"{}", {"theme": ""})
    finally:
        page_cache.converter_versions.cache_clear()


def test_entries_are_written_atomically_and_unused_ones_evicted(tmp_path: Path):
    cache = PageCache(tmp_path / "pages")
    cache.store("a" * 64, {"content": "<p>kept</p>"})
    assert [p.name for p in (tmp_path / "pages").iterdir()] == ["a" * 64 + ".json"]  # no temp
    assert cache.load("a" * 64) == {"content": "<p>kept</p>"}
    (tmp_path / "pages" / ("b" * 64 + ".json")).write_text('{"content": "<p>tru')
    assert cache.load("b" * 64) is None  # unreadable counts as missing
    assert cache.load("c" * 64) is None
    later = PageCache(tmp_path / "pages")  # the next build uses only the first entry
    assert later.load("a" * 64) is not None
    assert [p.name for p in later.evict_unused()] == ["b" * 64 + ".json"]
    assert cache.load("a" * 64) is not None


# -- deferred imports ---------------------------------------------------------------------------

HEAVY = (
    "matplotlib",
    "PIL",
    "cairosvg",
    "nbconvert",
    "nbformat",
    "jupytext",
    "tqdm",
    "filelock",
    "urllib.request",
)


def test_the_hooks_do_not_import_heavy_libraries():
    """Only a build that executes, converts or makes a notebook needs them (drawing curves,
    checking figures, rasterising SVG, converting or writing notebooks, showing progress on a
    terminal, locking snippets, downloading data)."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(REPO / 'hooks')!r})\n"
        "import executed_snippets, notebook_pages\n"
        f"print([name for name in {HEAVY!r} if name in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout


@pytest.mark.build
def test_a_warm_build_of_the_site_does_not_import_the_converter(tmp_path: Path):
    """mkdocs-jupyter's nbconvert and jupytext are imported only when a notebook page must be
    converted, nbformat only when a notebook must be made."""
    code = (
        "import sys, tempfile\n"
        "from mkdocs.commands.build import build\n"
        "from mkdocs.config import load_config\n"
        "config = load_config(config_file='mkdocs.yml', site_dir=tempfile.mkdtemp())\n"
        "config.plugins.on_startup(command='build', dirty=False)\n"
        "build(config)\n"
        "from dlexec.adapter.lazy_converter import DeferredModule\n"
        "loaded = [name for name in ('nbconvert', 'jupytext', 'nbformat')\n"
        "          if not isinstance(sys.modules.get(name, DeferredModule(name)), DeferredModule)]\n"
        "print(loaded)\n"
    )
    env = {**os.environ, "BLOG_EXECUTE": "never", "NO_MKDOCS_2_WARNING": "1"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        for _ in range(2)  # the first may convert (a fresh checkout); the second must not
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    assert runs[1].stdout.strip() == "[]"


def test_a_deferred_module_runs_at_its_first_attribute_and_only_once(tmp_path: Path):
    package = tmp_path / "heavy"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import sys, time\ntime.sleep(0.2)  # under test: a slow import that 8 threads race for\n"
        "sys.heavy_runs = getattr(sys, 'heavy_runs', 0) + 1\n"
        "VALUE = 7\n"
    )
    (package / "part.py").write_text("PART = 3\n")
    code = (
        "import sys, threading\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "from dlexec.adapter.lazy_converter import defer\n"
        "assert defer('heavy') and not defer('heavy') and not defer('no_such_module')\n"
        "import heavy\n"
        "assert getattr(sys, 'heavy_runs', 0) == 0, 'an import statement ran it'\n"
        "seen = []\n"
        "threads = [threading.Thread(target=lambda: seen.append(heavy.VALUE)) for _ in range(8)]\n"
        "[thread.start() for thread in threads]\n"
        "[thread.join() for thread in threads]\n"
        "assert seen == [7] * 8 and sys.heavy_runs == 1, (seen, sys.heavy_runs)\n"
        "from heavy import part\n"
        "import heavy.part\n"
        "assert part.PART == heavy.part.PART == 3 and sys.modules['heavy'].VALUE == 7\n"
        "assert sys.heavy_runs == 1\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
