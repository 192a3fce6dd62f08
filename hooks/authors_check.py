"""MkDocs hook: docs/.authors.yml is checked before the blog plugin reads it.

Each author needs `name`, `description` and `avatar` (the blog plugin requires all three, but
says neither where nor why), and the avatar must be an image in the repository: a path relative
to docs/, as the blog plugin resolves it. An avatar URL would make every page with the author
load it from another site (the browser tests forbid that, and readers' privacy too).

A problem fails `mkdocs build` with `docs/.authors.yml:LINE`, the author's id and what to do.
Under `mkdocs serve` the server keeps running (as in hooks/executed_snippets.py): the problems
are logged outside MkDocs' strict-mode counter, and the blog plugin reads a repaired stand-in
copy under .cache/serve/ instead of the file it would reject.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import yaml
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority

REQUIRED = ("name", "description", "avatar")
OPTIONAL = ("slug", "url")  # the blog plugin's other fields: text when present
AVATARS = "assets/authors"  # under docs/: where CONTRIBUTING.md tells authors to put theirs
IMAGES = {".png", ".jpg", ".jpeg", ".svg", ".webp", ".gif", ".avif"}
STR = "tag:yaml.org,2002:str"
serve_log = logging.getLogger("dlexec.serve")  # outside `mkdocs`: strict mode does not count it
_serving = False


class Problem(NamedTuple):
    line: int  # 1-based, in the authors file
    author: str | None
    text: str


def on_startup(command: str, dirty: bool) -> None:
    global _serving
    _serving = command == "serve"
    if _serving and not serve_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-8s-  %(message)s"))
        serve_log.addHandler(handler)
        serve_log.propagate = False


@event_priority(100)  # before the blog plugin (0) reads the authors file in its on_config
def on_config(config: MkDocsConfig) -> None:
    blog = next((p for name, p in config.plugins.items() if name.endswith("blog")), None)
    if blog is None or not getattr(blog.config, "enabled", True) or not blog.config.authors:
        return
    docs = Path(config.docs_dir).resolve()
    # The blog plugin's own resolution: authors_file, with {blog}, relative to docs/.
    path = docs / os.path.normpath(blog.config.authors_file.format(blog=blog.config.blog_dir))
    if not path.is_file():
        return  # the blog plugin then has no authors; a post naming one fails there
    root = Path(config.config_file_path).parent.resolve()
    problems = check(path, docs, root)
    if not problems:
        return
    where = _shown(path, root)
    lines = [_message(where, problem) for problem in problems]
    if not _serving:
        raise PluginError("\n".join(lines))
    for line in lines:
        serve_log.error(line)
    stand_in = root / ".cache" / "serve" / "authors.yml"
    stand_in.parent.mkdir(parents=True, exist_ok=True)
    stand_in.write_text(yaml.safe_dump(_repaired(path, docs, config)), encoding="utf-8")
    blog.config.authors_file = str(stand_in).replace("{", "{{").replace("}", "}}")


def check(path: Path, docs: Path, root: Path) -> list[Problem]:
    """What in the authors file at `path` the site cannot publish, with lines (empty: none)."""
    try:
        document = yaml.compose(path.read_text(encoding="utf-8-sig"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        return [Problem(mark.line + 1 if mark else 1, None, f"not valid YAML: {error.problem}")]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        return [Problem(1, None, f"cannot be read: {error}")]
    if document is None:
        return []
    authors = _get(document, "authors") if isinstance(document, yaml.MappingNode) else None
    if not isinstance(document, yaml.MappingNode) or (
        authors is not None and not isinstance(authors[1], yaml.MappingNode)
    ):
        node = document if authors is None else authors[1]
        return [
            Problem(
                _line(node),
                None,
                "the file must be `authors:` followed by one entry per author id "
                "(see CONTRIBUTING.md)",
            )
        ]
    if authors is None:
        return []
    problems = []
    for key, entry in authors[1].value:
        problems += _check_author(str(key.value), key, entry, docs, root)
    return sorted(problems, key=lambda problem: problem.line)


def _check_author(
    author: str, key: yaml.Node, entry: yaml.Node, docs: Path, root: Path
) -> list[Problem]:
    if not isinstance(entry, yaml.MappingNode):
        return [
            Problem(
                _line(key),
                author,
                "the entry must be a mapping with `name`, `description` and `avatar` "
                "(see CONTRIBUTING.md)",
            )
        ]
    problems = []
    for field in REQUIRED + OPTIONAL:
        found = _get(entry, field)
        if found is None or found[1].tag == "tag:yaml.org,2002:null":
            if field in REQUIRED:
                problems.append(Problem(_line(key), author, _missing(field, author)))
        elif found[1].tag != STR or (field in REQUIRED and not found[1].value.strip()):
            problems.append(
                Problem(
                    _line(found[1]),
                    author,
                    f"`{field}` must be a line of text (quote it if YAML reads it as a "
                    "number, a date or a list)",
                )
            )
        elif field == "avatar":
            problem = _avatar_problem(found[1].value.strip(), author, docs, root)
            if problem:
                problems.append(Problem(_line(found[1]), author, problem))
    return problems


def _missing(field: str, author: str) -> str:
    example = {
        "name": "name: Ada Lovelace",
        "description": "description: Writes about regularization",
        "avatar": f"avatar: {AVATARS}/{author}.png",
    }[field]
    text = f"no `{field}` (name, description and avatar are all required): add `{example}`"
    if field == "avatar":
        text += f" and put the image at docs/{AVATARS}/{author}.png"
    return text


def _avatar_problem(avatar: str, author: str, docs: Path, root: Path) -> str | None:
    """Why `avatar` is not an image file under docs/, with what to do; None if it is one."""
    parts = urlsplit(avatar)
    suffix = PurePosixPath(parts.path).suffix.lower()
    target = f"{AVATARS}/{author}{suffix if suffix in IMAGES else '.png'}"
    advice = (
        f"put the image in the repository under docs/{AVATARS}/ and write its path relative "
        f"to docs/ (avatar: {target})"
    )
    if parts.scheme or parts.netloc or avatar.startswith("//"):
        return f"avatar {avatar!r} is a URL, and pages may load nothing from another site: {advice}"
    if avatar.startswith(("/", "\\")):
        return f"avatar {avatar!r} is an absolute path: {advice}"
    file = (docs / avatar).resolve()
    if not file.is_relative_to(docs):
        return f"avatar {avatar!r} is outside docs/ (the site publishes only docs/): {advice}"
    if not file.is_file():
        return f"avatar {avatar!r}: there is no file {_shown(file, root)}: {advice}"
    return None


def _repaired(path: Path, docs: Path, config: MkDocsConfig) -> dict[str, Any]:
    """Under serve: the authors file with what the blog plugin would reject replaced, so the
    server keeps running (and posts naming an author still render)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    entries = data.get("authors") if isinstance(data, dict) else None
    logo = config.theme.get("logo") or ""
    authors = {}
    for author, entry in (entries if isinstance(entries, dict) else {}).items():
        entry = entry if isinstance(entry, dict) else {}

        def text(field: str, default: str, entry: dict = entry) -> str:
            value = entry.get(field)
            return value if isinstance(value, str) and value.strip() else default

        avatar = text("avatar", logo)
        if _avatar_problem(avatar, str(author), docs, docs):
            avatar = logo
        fixed = {
            "name": text("name", str(author)),
            "description": text("description", ""),
            "avatar": avatar,
        }
        fixed |= {f: entry[f] for f in OPTIONAL if isinstance(entry.get(f), str)}
        authors[str(author)] = fixed
    return {"authors": authors}


def _get(mapping: yaml.MappingNode, name: str) -> tuple[yaml.Node, yaml.Node] | None:
    """The last (key, value) pair of `mapping` whose key is `name` (YAML's last one wins)."""
    pairs = [(k, v) for k, v in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == name]
    return pairs[-1] if pairs else None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _shown(path: Path, root: Path) -> str:
    """The path as the error shows it: relative to the project root when inside it."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _message(where: str, problem: Problem) -> str:
    who = f"author {problem.author!r}: " if problem.author is not None else ""
    return f"{where}:{problem.line}: {who}{problem.text}"
