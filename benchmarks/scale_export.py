"""MkDocs hook used only by `make bench-scale` (benchmarks/scale.py): during one build of the
grown site with the engine, it writes each post as the static Markdown the engine made of it
(code fenced, outputs pasted in as the HTML the page shows, the post's own front matter) into
$SCALE_EXPORT. The "fair" site is built from those files without the engine: the same pages,
nothing executed or looked up.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mkdocs.plugins import event_priority

from dlexec.present.page import MARKER_PATTERN

ENGINE_HOOK = "hooks/executed_snippets.py"  # MkDocs registers a hook under its config path


@event_priority(-50)  # after the engine has expanded the post (priority 0)
def on_page_markdown(markdown, page, config, files):
    adapter = sys.modules[ENGINE_HOOK].ADAPTER
    rendered = adapter.pages.get(page.file.src_uri)
    if rendered is None:  # not a post
        return markdown
    # Each output on lines of its own: a raw HTML block to Markdown, as the engine's are.
    static = MARKER_PATTERN.sub(lambda m: f"\n\n{rendered.fragments[int(m[1])]}\n\n", markdown)
    source = Path(page.file.abs_src_path).read_text(encoding="utf-8")
    front_matter = source[: source.index("\n---", 3) + 4]
    target = Path(os.environ["SCALE_EXPORT"]) / page.file.src_uri
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"{front_matter}\n{static}", encoding="utf-8")
    return markdown
