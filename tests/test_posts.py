"""Finding embeds and placeholders in posts; bad references name the post and line."""

import pytest
from conftest import refs

from dlexec.errors import AuthoringError

POST = """---
date: 2026-01-01
---
# Title

[Whole file](../snippets/s.py)

Accuracy: {{ s.accuracy:.1% }} and {{ s.count }}.

```markdown
[Not an embed inside a code fence](../snippets/missing.py)
```

[Just one cell](../snippets/s.py#train)
"""


def test_embeds_and_placeholders_with_lines(project):
    found = refs(project, POST)
    assert [(e.line, e.snippet.name, e.cell) for e in found.embeds] == [
        (6, "s.py", None),
        (14, "s.py", "train"),
    ]
    assert [(p.line, p.snippet, p.value, p.spec) for p in found.placeholders] == [
        (8, "s", "accuracy", ".1%"),
        (8, "s", "count", ""),
    ]


def test_missing_snippet_names_post_and_line(project):
    with pytest.raises(
        AuthoringError, match=r"posts/p\.md:3: snippet '\.\./snippets/nope\.py' does not exist"
    ):
        refs(project, "# T\n\n[x](../snippets/nope.py)\n")


def test_embed_outside_snippets_folder_is_rejected(project):
    (project / "other.py").write_text("x = 1\n")
    with pytest.raises(
        AuthoringError, match=r"p\.md:1: snippet '\.\./other\.py' is not in the snippets folder"
    ):
        refs(project, "[x](../other.py)\n")


def test_malformed_front_matter_names_post_and_line(project):
    with pytest.raises(AuthoringError, match=r"p\.md:3: malformed front matter"):
        refs(project, "---\ndate: 2026-01-01\ntags: [a, b\n---\n# T\n")


def test_unclosed_front_matter(project):
    with pytest.raises(
        AuthoringError, match=r"p\.md:1: front matter opened with '---' is never closed"
    ):
        refs(project, "---\ndate: 2026-01-01\n# T\n")


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "true", "0", "-5", "86401", "'60'", ""])
def test_bad_snippet_timeout_names_key_value_rule_and_line(project, value):
    text = f"---\ndate: 2026-01-01\n\nsnippet_timeout: {value}\n---\n# T\n"
    with pytest.raises(
        AuthoringError,
        match=r"p\.md:4: front matter 'snippet_timeout' \(seconds\) is .*; it must be a finite",
    ):
        refs(project, text)


def test_snippet_timeout_message_shows_the_value(project):
    with pytest.raises(
        AuthoringError, match=r"'snippet_timeout' \(seconds\) is inf; .* > 0 and <= 86400"
    ):
        refs(project, "---\nsnippet_timeout: .inf\n---\n")


@pytest.mark.parametrize(("value", "seconds"), [("600", 600.0), ("0.5", 0.5), ("86400", 86400.0)])
def test_good_snippet_timeout(project, value, seconds):
    assert refs(project, f"---\nsnippet_timeout: {value}\n---\n# T\n").timeout == seconds


def test_a_percent_encoded_link_is_decoded_before_it_is_resolved(project):
    """`%20` is a space, as a browser or GitHub reads the link; it was reported as a file that
    does not exist (issue 23). Decoded, a path is still confined to the snippets folder."""
    (project / "snippets" / "my run.py").write_text("# %% train\ny = 2\n")
    found = refs(project, "[A](../snippets/my%20run.py#train)\n")
    assert [embed.snippet for embed in found.embeds] == [
        (project / "snippets" / "my run.py").resolve()
    ]
    (project / "other.py").write_text("x = 1\n")
    with pytest.raises(AuthoringError, match=r"is not in the snippets folder"):
        refs(project, "[up](../snippets/%2E%2E/other.py)\n")


def test_a_difference_names_both_values_and_keeps_its_column(project):
    """`{{ a.x - b.y:.1% | ci }}` reads as one placeholder of two snippets; the column is where
    the page replaces it (a twin in a code span on the same line stays text)."""
    found = refs(project, "`{{ s.x - t.y }}` is {{ s.x - t.y:.1% | ci }} and {{ s.x-s.z }}\n")
    [first, second] = found.placeholders
    assert (first.snippet, first.value, first.minus, first.spec, first.filter) == (
        "s",
        "x",
        ("t", "y"),
        ".1%",
        "ci",
    )
    assert first.snippets == ("s", "t") and first.column == len("`{{ s.x - t.y }}` is ")
    assert second.minus == ("s", "z") and second.snippets == ("s", "s")
