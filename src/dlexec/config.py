"""Engine configuration: `[tool.dlexec]` in pyproject.toml, overridden by environment variables."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from .errors import AuthoringError, EngineError, Location


class Mode(StrEnum):
    """What BLOG_EXECUTE asks for."""

    AUTO = "auto"  # run what is missing or stale, reuse the rest
    NEVER = "never"  # run nothing; a missing or stale result is an error
    ALWAYS = "always"  # re-run everything


@dataclass(frozen=True)
class EngineConfig:
    """Absolute paths and settings for one project."""

    root: Path
    posts_dir: Path
    snippets_dir: Path
    results_dir: Path
    keras_home: Path
    data_mirror: Path
    local_results: Path
    notebooks_dir: Path
    timeout: float = 180.0
    mode: Mode = Mode.AUTO
    backends: tuple[str, ...] = ("tensorflow", "jax", "torch")  # `make verify` runs each
    seeds: int = 2  # further seeds `make verify` runs a claimed snippet with

    @classmethod
    def load(cls, root: Path, environ: dict[str, str] | None = None) -> EngineConfig:
        """Read `root/pyproject.toml`, then apply BLOG_EXECUTE and BLOG_DATA_MIRROR."""
        root = root.resolve()
        pyproject = root / "pyproject.toml"
        try:
            table = tomllib.loads(pyproject.read_text()).get("tool", {}).get("dlexec", {})
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise AuthoringError(
                f"cannot read [tool.dlexec]: {error}", Location(pyproject)
            ) from error
        paths = {
            name: root / table.get(name, default)
            for name, default in (
                ("posts_dir", "posts"),
                ("snippets_dir", "snippets"),
                ("results_dir", "results"),
                ("keras_home", ".cache/keras"),
                ("data_mirror", "../shared/datasets/keras"),
                ("local_results", ".cache/results"),
                ("notebooks_dir", "notebooks"),
            )
        }
        config = cls(
            root=root,
            timeout=float(table.get("timeout", 180)),
            **_matrix_settings(table, pyproject),
            **paths,
        )
        return config.with_environment(os.environ if environ is None else environ)

    def with_environment(self, environ: Mapping[str, str]) -> EngineConfig:
        """Check every BLOG_* variable, then apply BLOG_EXECUTE and BLOG_DATA_MIRROR."""
        check_variables(environ)
        mode = Mode(environ.get("BLOG_EXECUTE", "auto").strip().lower() or "auto")
        mirror = environ.get("BLOG_DATA_MIRROR")
        return replace(
            self, mode=mode, data_mirror=Path(mirror).resolve() if mirror else self.data_mirror
        )

    def leaves_project(self, path: Path) -> bool:
        """Is `path` in the project, but a symlink (or under one) to somewhere outside it, or
        into `.git` (whose config holds CI's token)? Such a committed link would publish a
        file of the build machine."""
        lexical = Path(os.path.abspath(path))
        if not lexical.is_relative_to(self.root):
            return False
        real = Path(os.path.realpath(lexical))
        return not real.is_relative_to(self.root) or real.is_relative_to(self.root / ".git")

    def relative(self, path: Path) -> Path:
        """`path` relative to the project root when inside it, for messages."""
        try:
            return path.resolve().relative_to(self.root)
        except ValueError:
            return path


# Every variable the engine reads, with what it accepts (None: checked by `_value_problem`).
VARIABLES = {
    "BLOG_EXECUTE": ("auto", "never", "always"),
    "BLOG_EXECUTOR": ("local", "ray"),
    "BLOG_SANDBOX": ("auto", "on", "off"),
    "BLOG_JOBS": None,
    "BLOG_GPUS": None,
    "BLOG_DATA_MIRROR": None,
}
MAX_JOBS = 4096
GPU_ID = re.compile(r"[\w./:-]{1,100}")  # an index, a GPU-... UUID or a MIG-... id


def check_variables(environ: Mapping[str, str]) -> None:
    """One line for the first BLOG_* variable that is unknown (a typo would be ignored) or has
    a value the engine does not accept; up front, before anything runs."""
    for name in sorted(name for name in environ if name.startswith("BLOG_")):
        if name not in VARIABLES:
            raise EngineError(
                f"{name} is not a variable the engine reads; it reads {', '.join(VARIABLES)}"
            )
        value = environ[name]
        allowed = VARIABLES[name]
        if allowed is not None:
            if (value.strip().lower() or allowed[0]) not in allowed:
                raise EngineError(f"{name}={value!r:.80} is not one of {', '.join(allowed)}")
            continue
        problem = _value_problem(name, value)
        if problem:
            raise EngineError(f"{name}={value!r:.80} {problem}")


def _value_problem(name: str, value: str) -> str | None:
    text = value.strip()
    if name == "BLOG_JOBS":
        if text.lower() in ("", "auto") or (text.isdigit() and 1 <= int(text) <= MAX_JOBS):
            return None
        return f"must be a whole number from 1 to {MAX_JOBS}, or 'auto'"
    if name == "BLOG_GPUS":
        ids = [part.strip() for part in text.split(",") if part.strip()]
        if all(GPU_ID.fullmatch(part) for part in ids):
            return None
        return "must be GPU ids separated by commas (e.g. 0,1), or empty for none"
    if text and not Path(text).is_dir():
        return "is not a folder"
    return None


def _matrix_settings(table: dict, pyproject: Path) -> dict:
    """`backends` (some of tensorflow, jax, torch) and `seeds` (0 or more) of [tool.dlexec]."""
    from .backends import BACKENDS, MAIN_BACKEND

    backends = table.get("backends", list(BACKENDS))
    seeds = table.get("seeds", 2)
    if (
        not isinstance(backends, list)
        or MAIN_BACKEND not in backends
        or not set(backends) <= set(BACKENDS)
    ):
        raise AuthoringError(
            f"[tool.dlexec] backends lists {MAIN_BACKEND} and any of {', '.join(BACKENDS[1:])}",
            Location(pyproject),
        )
    if not isinstance(seeds, int) or isinstance(seeds, bool) or not 0 <= seeds <= 20:
        raise AuthoringError(
            "[tool.dlexec] seeds is a whole number from 0 to 20", Location(pyproject)
        )
    return {"backends": tuple(dict.fromkeys(backends)), "seeds": seeds}
