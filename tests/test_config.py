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
