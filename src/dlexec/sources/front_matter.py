"""What a blog post's front matter must hold to be published: the types the blog expects
for its keys, and the authors and categories the blog knows. Plain functions of data, so
that they outlive the generator: Material's blog plugin checks the same types with its own
`PostConfig`, and `tests/test_front_matter.py` holds the two to the same verdicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ..errors import AuthoringError, Location
from .posts import PostDocument


def _is_list_of_text(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _date_problem(value: object) -> str | None:
    if isinstance(value, dict):
        if not value.get("created"):
            return "needs a `created:` date when it is a mapping"
        wrong = [key for key, when in value.items() if not isinstance(when, date)]
        return f"`{wrong[0]}` is not a date (write 2026-12-07)" if wrong else None
    return None if isinstance(value, date) else "is not a date (write 2026-12-07)"


def _typed(kind: type):
    def problem(value: object) -> str | None:
        if value is None or isinstance(value, kind):
            return None
        return "must be " + {int: "a whole number", bool: "true or false"}.get(kind, "text")

    return problem


def _list_problem(value: object) -> str | None:
    return None if value is None or _is_list_of_text(value) else "must be a list of names"


def _links_problem(value: object) -> str | None:
    return None if value is None or isinstance(value, list) else "must be a list of links"


# The blog's front-matter keys and what each must hold; other keys (title, description,
# snippet_timeout, ...) belong to MkDocs, the theme or the engine, which check their own.
KEY_PROBLEMS = {
    "authors": _list_problem,
    "categories": _list_problem,
    "date": _date_problem,
    "draft": _typed(bool),
    "pin": _typed(bool),
    "links": _links_problem,
    "readtime": _typed(int),
    "slug": _typed(str),
}


def type_problems(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, problem) for each blog key of `meta` whose value has the wrong type; a post
    without `date:` is one of them."""
    if "date" not in meta:
        return [("date", "is missing: a post needs the date it was written")]
    found = [(key, check(meta[key])) for key, check in KEY_PROBLEMS.items() if key in meta]
    return [(key, problem) for key, problem in found if problem]


def membership_problems(
    meta: Mapping[str, Any], known_authors: Sequence[str] | None, categories: Sequence[str]
) -> list[str]:
    """Authors the blog does not know and categories it does not allow (None: any author)."""
    authors = meta.get("authors") or []
    problems = []
    if known_authors is not None:
        problems += [f"unknown author {a!r}" for a in authors if a not in known_authors]
    problems += [
        f"category {c!r} is not in categories_allowed"
        for c in meta.get("categories") or []
        if categories and c not in categories
    ]
    return problems


def front_matter_error(
    document: PostDocument, known_authors: Sequence[str] | None, categories: Sequence[str]
) -> AuthoringError | None:
    """Why the blog would refuse this post's front matter, at the first wrong key's line;
    None when it would publish it."""
    meta = document.meta
    if not meta:
        return AuthoringError(
            "a post needs front matter with at least a `date:`", Location(document.post, 1)
        )
    typed = type_problems(meta)
    if typed:
        key, _ = typed[0]
        line = document.nodes[key][0].start_mark.line + 2 if key in document.nodes else 1
        problems = "; ".join(f"`{key}` {problem}" for key, problem in typed)
        return AuthoringError(f"front matter: {problems}", Location(document.post, line))
    members = membership_problems(meta, known_authors, categories)
    if members:
        return AuthoringError("front matter: " + "; ".join(members), Location(document.post, 1))
    return None
