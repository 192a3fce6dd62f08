"""Page content the site adapter needs beyond a post's own: plain functions of data (no
generator here), so that another static-site generator's adapter reuses them as they are."""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from ..build.report import BuildReport
from .outputs_html import error_html

MORE = "<!-- more -->"  # the blog's excerpt marker


def excerpt_only(markdown: str) -> str:
    """What a post list needs of a post: the Markdown above the excerpt marker, then a short
    stand-in (so the list still links "Continue reading") instead of every code block."""
    above, marker, _ = markdown.partition(MORE)
    return f"{above}{marker}\n\n&hellip;\n" if marker else markdown


def with_notebook_buttons(markdown: str, buttons: str) -> str:
    """The notebook buttons right after the excerpt marker (a post list shows none)."""
    if MORE not in markdown:
        return markdown
    return markdown.replace(MORE, f"{MORE}\n\n{buttons}\n", 1)


def stand_in_markdown(stem: str, shown_path: str, problem: str, today: date) -> str:
    """A valid post (dated today, at the post's slug) that shows why the real one cannot be
    built: what `serve` publishes instead of a post the blog would reject."""
    return (
        f"---\ndate: {today.isoformat()}\nslug: {stem}\n---\n\n"
        f"# {html.escape(stem)}\n\n{MORE}\n\n"
        f"{error_html(f'{shown_path} cannot be built', problem)}\n"
    )


def blob_url(repo_url: str | None, branch: str, relative: str) -> str | None:
    """Where a file of the project is shown on the repository's site (None: no repository)."""
    return f"{repo_url.rstrip('/')}/blob/{branch}/{relative}" if repo_url else None


def posts_showing(report: BuildReport, snippet: Path) -> list[Path]:
    """The posts that embed `snippet`, in path order. An embed's snippet path is resolved when
    the post is read: resolving it again for every run page cost 3 s of a 200-post build."""
    target = snippet.resolve()
    return [
        post
        for post, document in sorted(report.posts.items())
        if any(embed.snippet == target for embed in document.embeds)
    ]


def back_links_html(links: Iterable[tuple[str, str]]) -> str:
    """'Shown in <post>, <post>.' above a snippet's run page; (title, url) pairs."""
    anchors = [f'<a href="{html.escape(url)}">{html.escape(title)}</a>' for title, url in links]
    if not anchors:
        return ""
    return f'<p class="dlexec-back">Shown in {", ".join(anchors)}.</p>\n'
