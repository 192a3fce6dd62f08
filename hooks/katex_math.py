"""MkDocs hook: math is rendered when the site is built, by KaTeX, so readers run no script.

pymdownx.arithmatex (generic mode) marks math up as `<span class="arithmatex">\\(...\\)</span>`
and `<div class="arithmatex">\\[...\\]</div>`. KaTeX (vendored in docs/assets/katex by
scripts/vendor_katex.sh) runs here in QuickJS, an embedded JavaScript engine, and turns each
into its HTML and MathML. A page with math links KaTeX's stylesheet (and so its fonts) from its
head, served by the site. In the browser, KaTeX's script cost a phone a quarter of a second of
blocked main thread (Lighthouse) on every visit; here it costs the build milliseconds.
(Preloading the two fonts nearly every formula uses did not help a phone's score measurably.)

A formula KaTeX cannot read fails `mkdocs build` with the post's file and line; under
`mkdocs serve` the page shows the error in its place and the server keeps running.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

KATEX = "assets/katex"  # under docs/: the script (read here, not published) and the stylesheet
MATH = re.compile(r'<(?P<tag>span|div) class="arithmatex">(?P<tex>.*?)</(?P=tag)>', re.S)
DELIMITERS = {"\\(": "\\)", "\\[": "\\]"}
serve_log = logging.getLogger("dlexec.serve")  # outside `mkdocs`: strict mode does not count it
_serving = False
_with_math: set[str] = set()  # src_uri of the pages of this build that have math


class MathError(Exception):
    """A formula KaTeX cannot read; the message is KaTeX's."""


def on_startup(command: str, dirty: bool) -> None:
    global _serving
    _serving = command == "serve"


def on_page_content(content: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if "arithmatex" not in content:
        return content
    script = Path(config.docs_dir) / KATEX / "katex.min.js"

    def rendered(match: re.Match[str]) -> str:
        source = html.unescape(match["tex"]).strip()
        tex = source[2:-2] if DELIMITERS.get(source[:2]) == source[-2:] else source
        try:
            math = render(script, tex, display=match["tag"] == "div")
        except MathError as error:
            where = _location(page, tex)
            if not _serving:
                raise PluginError(f"{where}: math KaTeX cannot read: {error}") from None
            serve_log.error(f"{where}: math KaTeX cannot read: {error}")
            return f'<code class="katex-error">{html.escape(f"{source} ({error})")}</code>'
        return f'<{match["tag"]} class="arithmatex">{math}</{match["tag"]}>'

    _with_math.add(page.file.src_uri)
    return MATH.sub(rendered, content)


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    if page.file.src_uri not in _with_math or "</head>" not in output:
        return output
    _with_math.discard(page.file.src_uri)

    stylesheet = html.escape(get_relative_url(f"{KATEX}/katex.min.css", page.url))
    return output.replace("</head>", f'<link rel="stylesheet" href="{stylesheet}">\n</head>', 1)


def render(script: Path, tex: str, display: bool) -> str:
    """KaTeX's HTML and MathML for `tex` (trusted: KaTeX escapes what it shows)."""
    import quickjs

    options = {"displayMode": display, "throwOnError": True, "output": "htmlAndMathml"}
    call = f"katex.renderToString({json.dumps(tex)}, {json.dumps(options)})"
    try:
        return str(_katex(script).eval(call))
    except quickjs.JSException as error:
        first = str(error).splitlines()[0]
        raise MathError(first.removeprefix("ParseError: ")) from None


@functools.cache
def _katex(script: Path) -> Any:
    """A JavaScript context with KaTeX loaded (once per process: about 30 ms)."""
    import quickjs

    context = quickjs.Context()
    context.eval(script.read_text(encoding="utf-8"))
    return context


def _location(page: Page, tex: str) -> str:
    """'posts/x.md:12' where the formula's first line is in the page's source."""
    path = Path(page.file.abs_src_path or page.file.src_uri)
    first = tex.strip().splitlines()[0].strip() if tex.strip() else ""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return str(path)
    number = next((n for n, line in enumerate(lines, 1) if first and first in line), None)
    return f"{path}:{number}" if number else str(path)
