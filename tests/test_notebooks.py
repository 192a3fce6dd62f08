"""Every post offers its notebook: the download works, its outputs are the page's, and the
Colab link opens the committed copy."""

from __future__ import annotations

import html
import json
from pathlib import Path

from bs4 import BeautifulSoup
from conftest import REPO

COLAB = "https://colab.research.google.com/github/example/deep-learning-executed/blob/main/"


def test_each_post_links_its_notebook_and_colab(real_site: Path):
    pages = sorted(real_site.glob("20*/*/*/*/index.html"))
    assert pages
    for page in pages:
        soup = BeautifulSoup(page.read_text(), "html.parser")
        download = soup.find("a", string="Download notebook")
        colab = soup.find("a", string="Open in Colab")
        assert download is not None and colab is not None, page
        notebook_file = (page.parent / download["href"]).resolve()
        assert notebook_file.is_file(), download["href"]
        committed = REPO / "notebooks" / notebook_file.name
        assert colab["href"] == COLAB + "notebooks/" + notebook_file.name
        assert committed.read_bytes() == notebook_file.read_bytes()
        check_outputs_match_page(json.loads(committed.read_text()), page.read_text())


def check_outputs_match_page(notebook: dict, page_html: str) -> None:
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code and any(cell["outputs"] for cell in code)
    for cell in code:
        for output in cell["outputs"]:
            if output["output_type"] == "stream":
                text = "".join(output["text"])
                for line in text.splitlines()[-3:]:
                    assert html.escape(line) in page_html, line
    markdown = "".join(
        "".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"
    )
    assert "{{" not in markdown and "<!-- more -->" not in markdown
