"""Prose revisions: a post edited since a build, when only its prose changed.

A live preview re-renders such a post (and what lists it) from the last build's report instead
of building everything again. That holds only when the edit cannot change anything the report
decided: the same front matter (title, date, claims, limits), the same embeds and
placeholders in the same order (so the same snippets, results and values), and no error of the
post's own in that report (its lines would have moved). Anything else is the full build's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..config import EngineConfig
from ..errors import AuthoringError
from ..sources.posts import PostDocument, read_document
from .report import BuildReport


def prose_edits(
    report: BuildReport, config: EngineConfig, changed: set[Path]
) -> BuildReport | None:
    """`report` with the new text of the `changed` files, when every one is a post the report
    read whose prose alone changed; None when anything else changed (the full build's)."""
    for path in changed:
        if path.parent != config.posts_dir or path.suffix != ".md" or config.leaves_project(path):
            return None  # not a post (or a link out of the project, which the build refuses)
    documents = {}
    for post in sorted(changed):
        document = prose_revision(report, post, config.snippets_dir)
        if document is None:
            return None
        documents[post] = document
    return revised(report, documents)


def prose_revision(report: BuildReport, post: Path, snippets_dir: Path) -> PostDocument | None:
    """The post read again, when only its prose changed since `report` was made; None when
    anything else did (or it cannot be read), so the whole build must run again."""
    before = report.posts.get(post)
    if before is None or any(e.location and e.location.path == post for e in report.errors):
        return None
    try:
        after = read_document(post, snippets_dir)
    except (AuthoringError, OSError):
        return None
    if front_matter_text(after) != front_matter_text(before):
        return None
    if references(after) != references(before):
        return None
    return after


def revised(report: BuildReport, documents: dict[Path, PostDocument]) -> BuildReport:
    """The report with these posts' documents in place of the ones it read (its runs, errors
    and the results it read stay: `prose_revision` vouched that they still hold)."""
    return dataclasses.replace(report, posts={**report.posts, **documents})


def front_matter_text(document: PostDocument) -> list[str]:
    return document.text.splitlines()[: document.front_matter_lines]


def references(document: PostDocument) -> tuple[tuple, ...]:
    """What the post asks of the engine, without where it asks it (prose moves lines)."""
    embeds = tuple((e.snippet, e.cell, e.target) for e in document.embeds)
    placeholders = tuple(
        (p.snippet, p.value, p.spec, p.filter, p.minus, p.text) for p in document.placeholders
    )
    return embeds, placeholders
