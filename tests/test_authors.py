"""docs/.authors.yml is checked at build time (hooks/authors_check.py): each author has a name,
a description and an avatar that is an image file under docs/, never a URL. The hook's
functions are called directly, with a small stand-in for MkDocs' config."""

from __future__ import annotations

import importlib.util
import logging
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from conftest import REPO
from material.plugins.blog.author import Authors
from mkdocs.exceptions import PluginError

GOOD = """\
authors:
  editor:
    name: The Editors
    description: Deep Learning, Executed
    avatar: assets/editors.svg
"""


@pytest.fixture
def hook():
    spec = importlib.util.spec_from_file_location(
        "authors_check", REPO / "hooks" / "authors_check.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.on_startup("build", dirty=False)
    return module


def fake_config(root: Path, authors: str | None = None):
    """A project at `root` with docs/, docs/assets/editors.svg and, if given, docs/.authors.yml."""
    docs = root / "docs"
    (docs / "assets").mkdir(parents=True, exist_ok=True)
    (docs / "assets" / "editors.svg").write_text("<svg/>")
    if authors is not None:
        (docs / ".authors.yml").write_text(textwrap.dedent(authors))
    blog = SimpleNamespace(
        config=SimpleNamespace(
            enabled=True, authors=True, authors_file="{blog}/.authors.yml", blog_dir="."
        )
    )
    return SimpleNamespace(
        config_file_path=str(root / "mkdocs.yml"),
        docs_dir=str(docs),
        plugins={"material/blog": blog},
        theme={"logo": "assets/logo.png"},
    )


def failure(hook, config) -> str:
    with pytest.raises(PluginError) as error:
        hook.on_config(config)
    return str(error.value)


def test_the_real_authors_file_passes(hook):
    assert (REPO / "docs" / ".authors.yml").is_file()
    assert hook.check(REPO / "docs" / ".authors.yml", REPO / "docs", REPO) == []
    blog = SimpleNamespace(
        config=SimpleNamespace(
            enabled=True, authors=True, authors_file="{blog}/.authors.yml", blog_dir="."
        )
    )
    config = SimpleNamespace(
        config_file_path=str(REPO / "mkdocs.yml"),
        docs_dir=str(REPO / "docs"),
        plugins={"material/blog": blog},
        theme={"logo": "assets/logo.png"},
    )
    hook.on_config(config)


def test_the_hook_is_registered_and_runs_before_the_blog_plugin(hook):
    hooks = (REPO / "mkdocs.yml").read_text().split("\nhooks:\n", 1)[1].split("\n\n", 1)[0]
    assert "hooks/authors_check.py" in [line.split()[1] for line in hooks.splitlines()]
    assert hook.on_config.mkdocs_priority > 0  # the blog plugin reads the file at priority 0


def test_a_good_file_passes(hook, tmp_path: Path):
    hook.on_config(fake_config(tmp_path, GOOD))


def test_an_avatar_url_fails_naming_its_line(hook, tmp_path: Path):
    config = fake_config(tmp_path, GOOD.replace("assets/editors.svg", "https://x.org/e.jpg"))
    assert failure(hook, config) == (
        "docs/.authors.yml:5: author 'editor': avatar 'https://x.org/e.jpg' is a URL, and "
        "pages may load nothing from another site: put the image in the repository under "
        "docs/assets/authors/ and write its path relative to docs/ "
        "(avatar: assets/authors/editor.jpg)"
    )


@pytest.mark.parametrize(
    "avatar", ["http://x.org/e.png", "//cdn.x.org/e.png", "data:image/png;base64,AAAA"]
)
def test_every_kind_of_url_is_refused(hook, tmp_path: Path, avatar: str):
    config = fake_config(tmp_path, GOOD.replace("assets/editors.svg", f'"{avatar}"'))
    assert failure(hook, config).startswith(
        f"docs/.authors.yml:5: author 'editor': avatar {avatar!r} is a URL"
    )


def test_a_missing_avatar_file_fails_naming_its_line(hook, tmp_path: Path):
    config = fake_config(tmp_path, GOOD.replace("editors.svg", "authors/ana.png"))
    assert failure(hook, config) == (
        "docs/.authors.yml:5: author 'editor': avatar 'assets/authors/ana.png': there is no "
        "file docs/assets/authors/ana.png: put the image in the repository under "
        "docs/assets/authors/ and write its path relative to docs/ "
        "(avatar: assets/authors/editor.png)"
    )


@pytest.mark.parametrize("avatar", ["/assets/editors.svg", "../mkdocs.yml"])
def test_an_avatar_outside_docs_relative_paths_fails(hook, tmp_path: Path, avatar: str):
    (tmp_path / "mkdocs.yml").write_text("")
    config = fake_config(tmp_path, GOOD.replace("assets/editors.svg", avatar))
    assert failure(hook, config).startswith(
        f"docs/.authors.yml:5: author 'editor': avatar {avatar!r}"
    )


def test_a_missing_description_fails_naming_the_author(hook, tmp_path: Path):
    config = fake_config(tmp_path, GOOD.replace("    description: Deep Learning, Executed\n", ""))
    assert failure(hook, config) == (
        "docs/.authors.yml:2: author 'editor': no `description` (name, description and avatar "
        "are all required): add `description: Writes about regularization`"
    )


def test_a_missing_avatar_says_where_to_put_the_image(hook, tmp_path: Path):
    config = fake_config(tmp_path, GOOD.replace("    avatar: assets/editors.svg\n", ""))
    assert failure(hook, config) == (
        "docs/.authors.yml:2: author 'editor': no `avatar` (name, description and avatar are "
        "all required): add `avatar: assets/authors/editor.png` and put the image at "
        "docs/assets/authors/editor.png"
    )


def test_every_problem_is_reported_at_once(hook, tmp_path: Path):
    authors = GOOD + "  ana:\n    name: 42\n    avatar: https://x.org/a.png\n"
    lines = failure(hook, fake_config(tmp_path, authors)).splitlines()
    assert [line.split(": ", 2)[:2] for line in lines] == [
        ["docs/.authors.yml:6", "author 'ana'"],  # the id's line: no description
        ["docs/.authors.yml:7", "author 'ana'"],  # name: 42 is not text
        ["docs/.authors.yml:8", "author 'ana'"],  # a URL
    ]
    assert "no `description`" in lines[0] and "`name` must be a line of text" in lines[1]


def test_bad_yaml_fails_naming_its_line(hook, tmp_path: Path):
    config = fake_config(tmp_path, GOOD + "  ana: [\n")
    assert failure(hook, config).startswith("docs/.authors.yml:7: not valid YAML:")


def test_no_authors_file_or_authors_off_is_left_to_the_blog_plugin(hook, tmp_path: Path):
    hook.on_config(fake_config(tmp_path))
    config = fake_config(tmp_path, "authors: {ana: {name: Ana}}\n")
    config.plugins["material/blog"].config.authors = False
    hook.on_config(config)


def test_under_serve_the_server_keeps_running_on_a_stand_in(hook, tmp_path: Path, caplog):
    hook.on_startup("serve", dirty=False)
    broken = GOOD + "  ana:\n    name: Ana\n    avatar: https://x.org/a.png\n"
    config = fake_config(tmp_path, broken)
    hook.serve_log.propagate = True  # on_startup gave it its own handler; caplog needs the root
    with caplog.at_level(logging.ERROR, logger="dlexec.serve"):
        hook.on_config(config)  # no PluginError
    assert [r.getMessage().split(": ", 2)[:2] for r in caplog.records] == [
        ["docs/.authors.yml:6", "author 'ana'"],
        ["docs/.authors.yml:8", "author 'ana'"],
    ]
    blog = config.plugins["material/blog"].config
    stand_in = Path(blog.authors_file.format(blog=blog.blog_dir))
    assert stand_in == tmp_path / ".cache" / "serve" / "authors.yml"
    # What the blog plugin does with it: the same validation, which must now pass.
    authors = Authors()
    authors.load_dict(yaml.safe_load(stand_in.read_text()))
    assert authors.validate() == ([], [])
    assert authors.authors["ana"]["avatar"] == "assets/logo.png"
    assert authors.authors["editor"]["avatar"] == "assets/editors.svg"
    # Once the file is fixed, the blog plugin reads it again (it reloads its config per build).
    hook.on_config(fake_config(tmp_path, GOOD))
