"""The engine's front-matter check gives the blog plugin's verdicts without the plugin: the
same posts pass and fail as under Material's own `PostConfig`, and a failure names the key's
line, so that a move to another generator keeps the check."""

from __future__ import annotations

from pathlib import Path

import pytest
from material.plugins.blog.structure.config import PostConfig

from dlexec.sources.front_matter import front_matter_error, membership_problems, type_problems
from dlexec.sources.posts import read_document

CASES = {
    "a plain date": "date: 2026-12-07",
    "a date and time": "date: 2026-12-07 10:30:00",
    "created and updated": "date:\n  created: 2026-01-02\n  updated: 2026-02-03",
    "a quoted date": 'date: "2026-12-07"',
    "a word for a date": "date: soon",
    "no created date": "date:\n  updated: 2026-02-03",
    "an updated word": "date:\n  created: 2026-01-02\n  updated: later",
    "no date": "title: x",
    "authors as a list": "date: 2026-12-07\nauthors: [ann, bob]",
    "an author as text": "date: 2026-12-07\nauthors: ann",
    "a numbered author": "date: 2026-12-07\nauthors: [1]",
    "categories as a list": "date: 2026-12-07\ncategories: [ML]",
    "a category mapping": "date: 2026-12-07\ncategories: {ML: 1}",
    "draft yes": "date: 2026-12-07\ndraft: true",
    "draft as text": "date: 2026-12-07\ndraft: 'no'",
    "draft empty": "date: 2026-12-07\ndraft:",
    "pin as text": "date: 2026-12-07\npin: maybe",
    "pin empty": "date: 2026-12-07\npin:",
    "readtime a number": "date: 2026-12-07\nreadtime: 5",
    "readtime a fraction": "date: 2026-12-07\nreadtime: 2.5",
    "readtime text": "date: 2026-12-07\nreadtime: five",
    "slug text": "date: 2026-12-07\nslug: my-post",
    "slug a number": "date: 2026-12-07\nslug: 12",
    "links a list": "date: 2026-12-07\nlinks:\n  - posts/a.md",
    "links text": "date: 2026-12-07\nlinks: posts/a.md",
    "other keys": "date: 2026-12-07\ntitle: T\nsnippet_timeout: 30\ndescription: d",
}


def material_accepts(meta: dict) -> bool:
    config = PostConfig("post.md")
    config.load_dict({key: meta[key] for key in set(meta) & set(config.keys())})
    try:
        errors, _ = config.validate()
    except (KeyError, TypeError):  # a date mapping without `created:`, links as text
        return False
    return not errors


@pytest.mark.parametrize("yaml_text", CASES.values(), ids=CASES.keys())
def test_the_engine_and_the_blog_plugin_agree_on_every_key(tmp_path: Path, yaml_text: str):
    post = tmp_path / "post.md"
    post.write_text(f"---\n{yaml_text}\n---\n\nBody.\n", encoding="utf-8")
    document = read_document(post, tmp_path)
    assert (not type_problems(document.meta)) == material_accepts(dict(document.meta)), (
        type_problems(document.meta)
    )


def test_a_wrong_type_is_named_at_its_line(tmp_path: Path):
    post = tmp_path / "post.md"
    post.write_text("---\ntitle: T\ndate: 2026-12-07\nreadtime: five\n---\n", encoding="utf-8")
    error = front_matter_error(read_document(post, tmp_path), None, [])
    assert error is not None
    assert str(error) == f"{post}:4: front matter: `readtime` must be a whole number"


def test_a_post_without_front_matter_is_refused(tmp_path: Path):
    post = tmp_path / "post.md"
    post.write_text("Just prose.\n", encoding="utf-8")
    assert "needs front matter" in str(front_matter_error(read_document(post, tmp_path), None, []))


def test_authors_and_categories_are_held_to_the_blog():
    meta = {"authors": ["ann", "bob"], "categories": ["ML", "Cooking"]}
    assert membership_problems(meta, ["ann"], ["ML"]) == [
        "unknown author 'bob'",
        "category 'Cooking' is not in categories_allowed",
    ]
    assert membership_problems(meta, None, []) == []
