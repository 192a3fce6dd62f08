"""MkDocs hook: the parts of the site's chrome that mkdocs.yml alone cannot say.

- on_config: the RSS channel image is the logo's absolute URL, derived from site_url (the one
  place the site's address is written) and theme.logo.
- on_files: each page's "edit this page" link points at its real source in the repository.
  MkDocs would join edit_uri to the path inside docs/, but posts come from the top-level posts/
  (hooks/executed_snippets.py adds them) and the run pages from notebooks under .cache/:
  docs pages link to docs/..., posts to posts/..., and generated pages get no link.
- on_post_page: GLightbox's script, which mkdocs-glightbox puts in the page's head, moves to
  just before the script that starts it (the end of the body): in the head it held back the
  first paint by 0.6 s on Lighthouse's phone.
- on_page_markdown: no lightbox on pages rendered from notebooks. Their content is put in after
  mkdocs-glightbox runs (hooks/notebook_pages.py), so it would only load its script there and
  parse and rewrite every large page.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from dlexec.config import EngineConfig

GLIGHTBOX_SCRIPT = re.compile(r'<script src="[^"]*assets/javascripts/glightbox\.min\.js"></script>')
GLIGHTBOX_STYLESHEET = re.compile(r'<link href="[^"]*/glightbox\.min\.css" [^>]*>')
GLIGHTBOX_START = '<script id="init-glightbox">'


@event_priority(50)  # before the RSS plugin reads its options into the feed
def on_config(config: MkDocsConfig) -> None:
    rss = config.plugins.get("rss")
    logo = config.theme.get("logo")
    if rss is not None and logo and config.site_url and not rss.config.image:
        rss.config.image = urljoin(config.site_url, logo)


# After hooks/executed_snippets.py adds the posts (100), before the blog plugin makes its pages
# (-50): a page reads its file's edit_uri when it is created.
@event_priority(0)
def on_files(files: Files, config: MkDocsConfig) -> Files:
    root = Path(config.config_file_path).parent.resolve()
    sources = [Path(config.docs_dir).resolve(), EngineConfig.load(root).posts_dir.resolve()]
    for file in files.documentation_pages():
        file.edit_uri = _repository_path(file, root, sources)
    return files


def _repository_path(file: File, root: Path, sources: list[Path]) -> str | None:
    """The file's path in the repository, if it is a source an author edits; else None."""
    if file.generated_by or not file.abs_src_path:
        return None
    path = Path(file.abs_src_path).resolve()
    if not any(path.is_relative_to(folder) for folder in sources):
        return None
    return path.relative_to(root).as_posix()


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri.endswith(".ipynb"):
        page.meta["glightbox"] = False  # mkdocs-glightbox's own per-page switch
    return markdown


@event_priority(-100)  # after mkdocs-glightbox (0) has added its script and the start-up code
def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    """GLightbox's script and stylesheet move from the head to the end of the body, beside its
    start-up code: nothing of a lightbox is needed before a tap, and in the head each held
    back the page's first paint on a phone."""
    if GLIGHTBOX_START not in output:
        return output
    for pattern in (GLIGHTBOX_STYLESHEET, GLIGHTBOX_SCRIPT):
        tag = pattern.search(output)
        if tag is not None:
            output = output[: tag.start()] + output[tag.end() :]
            output = output.replace(GLIGHTBOX_START, tag[0] + GLIGHTBOX_START, 1)
    return output
