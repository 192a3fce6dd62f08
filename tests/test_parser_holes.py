"""What the post scanner must leave alone: embeds and placeholders that Markdown does not show
as prose (HTML comments, indented and fenced code, code spans), and snippet paths that escape
the snippets folder through a symlink."""

import random
import re
from pathlib import Path

import pytest
from conftest import refs

from dlexec.errors import AuthoringError, Location
from dlexec.sources.posts import snippet_for_placeholder
from dlexec.sources.prose import placeholder_matches, prose_lines


def found(project: Path, text: str) -> tuple[list[int], list[str]]:
    """Lines of the embeds, and the placeholders' snippet names, that the scan finds."""
    references = refs(project, text)
    return [e.line for e in references.embeds], [p.snippet for p in references.placeholders]


def test_embed_in_an_html_comment_is_left_alone(project):
    # It names a missing snippet: were it scanned, the post would fail.
    text = "# T\n\n<!-- [old](../snippets/missing.py) -->\n\n[new](../snippets/s.py)\n"
    assert found(project, text) == ([5], [])
    assert 3 not in [number for number, _ in prose_lines(text)]


def test_multi_line_comment_hides_embeds_and_placeholders(project):
    text = (
        "Before {{ a.x }} <!-- opens mid-line {{ b.x }}\n"
        "[old](../snippets/missing.py)\n"
        "{{ c.x }}\n"
        "closes here {{ d.x }} --> after {{ e.x }}\n"
        "<!-- one line {{ f.x }} --> and {{ g.x }} <!-- {{ h.x }} -->\n"
    )
    assert found(project, text) == ([], ["a", "e", "g"])


def test_comment_markers_inside_code_are_not_comments(project):
    text = "Write `<!--` to open {{ a.x }}\n\n```html\n<!--\n```\n\n{{ b.x }}\n"
    assert found(project, text) == ([], ["a", "b"])


def test_indented_code_after_a_blank_line_is_code(project):
    text = (
        "# T\n\n"
        "    [old](../snippets/missing.py)\n"
        "    {{ a.x }}\n\n"
        "    {{ b.x }}\n"
        "\t{{ c.x }}\n"
        "back in prose {{ d.x }}\n"
        "    a lazy continuation {{ e.x }}\n"
    )
    assert found(project, text) == ([], ["d", "e"])


def test_tab_indented_code(project):
    assert found(project, "Text\n\n\t{{ a.x }}\n\n{{ b.x }}\n") == ([], ["b"])


@pytest.mark.parametrize(
    "opener", ["* item", "1. item", "!!! note", '??? tip "Title"', "???+ note"]
)
def test_indented_content_of_lists_and_admonitions_is_prose(project, opener):
    text = (
        f"{opener}\n\n    [in it](../snippets/s.py)\n\n    {{{{ a.x }}}}\n\n        {{{{ b.x }}}}\n"
    )
    # The body counts; only what is indented a further 4 columns is a code block in it.
    assert found(project, text) == ([3], ["a"])


def test_a_list_ends_at_an_unindented_paragraph(project):
    text = "* item\n\nParagraph.\n\n    {{ a.x }}\n\n{{ b.x }}\n"
    assert found(project, text) == ([], ["b"])


def test_fence_closes_only_on_a_bare_fence_as_long(project):
    text = "````md\n```python\n{{ a.x }}\n```\n{{ b.x }}\n````\n{{ c.x }}\n"
    assert found(project, text) == ([], ["c"])


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("`{{ a.x }}` but {{ b.x }}", ["b"]),
        ("``code with ` and {{ a.x }}`` then {{ b.x }}", ["b"]),
        ("an unmatched ` does not hide {{ b.x }}", ["b"]),
        ("``{{ a.x }}` is not closed by one backtick, so {{ b.x }} shows", ["a", "b"]),
        (r"\`{{ b.x }}\` escaped backticks are text", ["b"]),
        ("<!-- {{ a.x }} --> {{ b.x }}", ["b"]),
    ],
)
def test_placeholders_in_code_spans_are_left_alone(line, shown):
    assert [m["snippet"] for m in placeholder_matches(line)] == shown


def test_placeholder_matches_gives_positions_in_the_line():
    line = "`{{ a.x }}` and {{ b.x:.1% }}"
    (match,) = placeholder_matches(line)
    assert line[match.start() : match.end()] == "{{ b.x:.1% }}" and match["spec"] == ".1%"


def test_prose_lines_keep_their_text(project):
    text = "<!-- more -->\nA {{ a.x }} <!-- x\ny --> B\n"
    assert [(n, str(line)) for n, line in prose_lines(text)] == [
        (2, "A {{ a.x }} <!-- x"),
        (3, "y --> B"),
    ]


def test_placeholder_snippet_behind_a_symlink_out_of_the_folder(project):
    outside = project / "secret.txt"
    outside.write_text("password\n")
    (project / "snippets" / "x.py").symlink_to(outside)
    where = Location(project / "posts" / "p.md", 7)
    with pytest.raises(AuthoringError, match=r"p\.md:7: snippet 'x' .* not in the snippets folder"):
        snippet_for_placeholder("x", project / "snippets", where)


def test_placeholder_snippet_must_exist(project):
    where = Location(project / "posts" / "p.md", 3)
    with pytest.raises(AuthoringError, match=r"p\.md:3: snippet 'nope' .* does not exist"):
        snippet_for_placeholder("nope", project / "snippets", where)


def test_placeholder_snippet_resolved(project):
    where = Location(project / "posts" / "p.md", 3)
    path = snippet_for_placeholder("s", project / "snippets", where)
    assert path == (project / "snippets" / "s.py").resolve()


def test_placeholder_through_a_link_inside_the_folder_names_the_file(project):
    # Results are looked up by the snippet's own name; a link's name would find nothing.
    (project / "snippets" / "alias.py").symlink_to(project / "snippets" / "s.py")
    with pytest.raises(AuthoringError, match=r"links to s\.py"):
        snippet_for_placeholder("alias", project / "snippets", Location(project, 1))


def test_embed_behind_a_symlink_out_of_the_folder(project):
    (project / "other.py").write_text("x = 1\n")
    (project / "snippets" / "link.py").symlink_to(project / "other.py")
    with pytest.raises(AuthoringError, match=r"p\.md:1: .* not in the snippets folder"):
        refs(project, "[x](../snippets/link.py)\n")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # An unclosed `<!--` is text in Python-Markdown, and so is what follows it.
        ("<!-- never closed {{ a.x }}\n\n{{ b.x }}\n", ["a", "b"]),
        # A comment inside a paragraph cannot run over a blank line ...
        ("Text <!-- open {{ a.x }}\n\n{{ b.x }} -->\n", ["a", "b"]),
        # ... a comment block starting a line can.
        ("<!--\n\n{{ a.x }}\n\n-->\nafter {{ b.x }}\n", ["b"]),
        # Not in an indented body, where it is text again.
        ("* item\n\n    <!--\n\n    {{ a.x }}\n\n    -->\n", ["a"]),
        # A comment block ends a paragraph like a blank line: indented code may follow.
        ("<!-- c -->\n    {{ a.x }}\n\n{{ b.x }}\n", ["b"]),
        # A heading too.
        ("# Title\n    {{ a.x }}\n", []),
        # An unclosed fence is text.
        ("```\n{{ a.x }}\n", ["a"]),
        # A list cannot interrupt a paragraph, so its "body" is code; an admonition can.
        ("Text\n* item\n\n    {{ a.x }}\n", []),
        ("Text\n!!! note\n\n    {{ a.x }}\n", ["a"]),
        # An admonition ends at its first less indented line; a list item's paragraph is lazy.
        ("!!! note\n    body\ntext\n\n    {{ a.x }}\n", []),
        ("* item\ntext\n\n    {{ a.x }}\n", ["a"]),
    ],
)
def test_blocks_as_python_markdown_sees_them(text, shown):
    assert scanned(text) == shown == rendered(text)


def scanned(text: str) -> list[str]:
    return [m["snippet"] for _, line in prose_lines(text) for m in placeholder_matches(line)]


EXTENSIONS = ["admonition", "attr_list", "md_in_html", "pymdownx.details", "pymdownx.superfences"]


def rendered(text: str) -> list[str]:
    """The placeholders the site's Markdown shows as text (not in code, not in comments)."""
    markdown = pytest.importorskip("markdown")
    bs4 = pytest.importorskip("bs4")
    soup = bs4.BeautifulSoup(markdown.markdown(text, extensions=EXTENSIONS), "html.parser")
    return [
        match[1]
        for node in soup.find_all(string=True)
        if not isinstance(node, bs4.Comment) and not node.find_parent(["code", "pre"])
        for match in re.finditer(r"\{\{ (\w+)\.x \}\}", node)
    ]


def random_post(rng: random.Random) -> str:
    """Blank-separated blocks of every kind the scanner tells apart, each with placeholders."""
    count = iter(range(10_000))

    def ph() -> str:
        return f"{{{{ p{next(count)}.x }}}}"

    def block(indent: str, depth: int) -> str:
        kinds = [
            lambda: f"{indent}text {ph()} `code {ph()}` ``a ` {ph()}`` <!-- {ph()} --> {ph()}",
            lambda: f"{indent}x <!-- open {ph()}\n{indent}{ph()} --> {ph()}\n{indent}    {ph()}",
            lambda: f"{indent}```\n{indent}{ph()}\n{indent}```",
            lambda: f"{indent}    code {ph()}\n\n{indent}    more {ph()}",
            lambda: f"{indent}<!--\n\n{indent}{ph()}\n\n{indent}-->",
            lambda: f"{indent}<!-- {ph()}\n{indent}--> after {ph()}",
            lambda: f"{indent}# Heading {ph()}" if not indent else f"{indent}{ph()}",
        ]
        if depth < 2:
            head = rng.choice([f"* item {ph()}", f"1. item {ph()}", "!!! note", '??? tip "T"'])
            inner = "\n\n".join(block(indent + "    ", depth + 1) for _ in range(rng.randint(1, 3)))
            kinds.append(lambda: f"{indent}{head}\n\n{inner}")
        return rng.choice(kinds)()

    return "\n\n".join(block("", 0) for _ in range(rng.randint(1, 6))) + "\n"


def test_scanner_agrees_with_python_markdown_on_random_posts():
    rng = random.Random(20260101)
    for _ in range(300):
        text = random_post(rng)
        assert sorted(scanned(text)) == sorted(rendered(text)), text
