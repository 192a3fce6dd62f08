"""Every BLOG_* variable is checked up front, before anything runs: one line naming it and
what it accepts; an unknown one (a typo that would be ignored) is refused too."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlexec.config import EngineConfig, Mode
from dlexec.errors import EngineError


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BLOG_EXECUTE", "sometimes", "BLOG_EXECUTE='sometimes' is not one of auto, never, always"),
        ("BLOG_EXECUTOR", "nope", "BLOG_EXECUTOR='nope' is not one of local, ray"),
        ("BLOG_SANDBOX", "maybe", "BLOG_SANDBOX='maybe' is not one of auto, on, off"),
        ("BLOG_JOBS", "-1", "BLOG_JOBS='-1' must be a whole number from 1 to 4096, or 'auto'"),
        ("BLOG_JOBS", "9" * 30, "must be a whole number from 1 to 4096"),
        ("BLOG_GPUS", "0;rm -rf", "BLOG_GPUS='0;rm -rf' must be GPU ids separated by commas"),
        ("BLOG_DATA_MIRROR", "/nonexistent/mirror", "BLOG_DATA_MIRROR='/nonexistent/mirror' is"),
        ("BLOG_EXECUT", "never", "BLOG_EXECUT is not a variable the engine reads; it reads"),
    ],
)
def test_a_bad_blog_variable_is_one_line_naming_it(
    tmp_path: Path, name: str, value: str, message: str
):
    (tmp_path / "pyproject.toml").write_text("[tool.dlexec]\n")
    with pytest.raises(EngineError) as refused:
        EngineConfig.load(tmp_path, environ={name: value})
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_good_values_are_accepted(tmp_path: Path):
    environ = {
        "BLOG_EXECUTE": " Never ",
        "BLOG_EXECUTOR": "ray",
        "BLOG_SANDBOX": "",
        "BLOG_JOBS": "auto",
        "BLOG_GPUS": "0,GPU-8a3c2b1e-0000-1111-2222-333344445555,MIG-GPU-1/2/0",
        "BLOG_DATA_MIRROR": str(tmp_path),
    }
    (tmp_path / "pyproject.toml").write_text("[tool.dlexec]\n")
    config = EngineConfig.load(tmp_path, environ=environ)
    assert config.mode is Mode.NEVER and config.data_mirror == tmp_path.resolve()


PYPROJECT = """[project]
name = "blog"

[tool.dlexec]
posts_dir = "posts"
{line}
seeds = 2
"""


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("timout = 60", "[tool.dlexec] has no key 'timout' (did you mean 'timeout'?); it reads"),
        ("timeout = -5", "[tool.dlexec] timeout is -5; it must be > 0 and <= 86400 seconds"),
        ('timeout = "soon"', "[tool.dlexec] timeout is 'soon'; give seconds"),
        ("timeout = inf", "[tool.dlexec] timeout is inf; it must be > 0"),
        ('backends = "jax"', "[tool.dlexec] backends lists tensorflow and any of jax, torch"),
        ('results_dir = "../elsewhere"', "[tool.dlexec] results_dir is '../elsewhere', outside"),
        ("results_dir = 3", "[tool.dlexec] results_dir is 3; give a folder"),
    ],
)
def test_a_bad_setting_names_pyproject_the_key_and_its_line(
    tmp_path: Path, line: str, message: str
):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(PYPROJECT.format(line=line))
    with pytest.raises(EngineError) as refused:
        EngineConfig.load(tmp_path, environ={})
    assert str(refused.value).startswith(f"{pyproject}:6: {message}")


def test_a_bad_seeds_value_is_at_its_own_line(tmp_path: Path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(PYPROJECT.format(line="").replace("seeds = 2", "seeds = 1.5"))
    with pytest.raises(EngineError, match=r"pyproject.toml:7: \[tool.dlexec\] seeds is 1.5"):
        EngineConfig.load(tmp_path, environ={})


def test_the_real_settings_are_valid():
    from conftest import REPO

    config = EngineConfig.load(REPO, environ={})
    assert config.timeout == 180 and config.seeds == 4
    assert config.backends == ("tensorflow", "jax", "torch")


def test_a_committed_cache_is_refused(tmp_path: Path):
    """A pull request could `git add -f` a forged cache entry (a converted page, a parsed
    snippet, a checked-file marker): the build trusts only caches it wrote itself."""
    from conftest import git

    (tmp_path / "pyproject.toml").write_text("[tool.dlexec]\n")
    git(tmp_path, "init", "-q")
    EngineConfig.load(tmp_path, environ={})  # a repository without a committed cache
    page = tmp_path / ".cache" / "notebook-pages" / "forged.json"
    page.parent.mkdir(parents=True)
    page.write_text('{"html": "<script>alert(1)</script>"}')
    git(tmp_path, "add", "-f", str(page))
    with pytest.raises(EngineError, match=r"1 file\(s\) under .cache/ are committed"):
        EngineConfig.load(tmp_path, environ={})
