"""Engine configuration: `[tool.dlexec]` in pyproject.toml, overridden by environment variables."""

from __future__ import annotations

import difflib
import math
import os
import re
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from .errors import AuthoringError, EngineError, Location, visible


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
    def load(cls, root: Path, environ: Mapping[str, str] | None = None) -> EngineConfig:
        """Read and check `root/pyproject.toml`'s [tool.dlexec], then the BLOG_* variables."""
        root = root.resolve()
        pyproject = root / "pyproject.toml"
        try:
            text = pyproject.read_text(encoding="utf-8")
            table = tomllib.loads(text).get("tool", {}).get("dlexec", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise AuthoringError(
                f"cannot read [tool.dlexec]: {error}", Location(pyproject)
            ) from None
        settings = checked_settings(table, root, _KeyLines(pyproject, text))
        refuse_committed_cache(root)
        config = cls(root=root, **settings)
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


def refuse_committed_cache(root: Path) -> None:
    """The build trusts its own caches under .cache/ (parsed snippets, converted pages,
    notebook stamps, contents already checked): none may come from a commit, where a pull
    request could put a forged one (`git add -f` adds an ignored path)."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z", "--", ".cache"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return  # no git: no commit to bring a cache
    committed = [name for name in done.stdout.split("\0") if name]
    if done.returncode == 0 and committed:
        raise EngineError(
            f"{len(committed)} file(s) under .cache/ are committed (first: "
            f"{visible(committed[0])[:200]}); the build trusts only the caches it writes "
            "itself: `git rm -r --cached .cache`"
        )


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


# [tool.dlexec]: each key, checked when read (a misspelled key would silently be ignored).
PATH_KEYS = {
    "posts_dir": "posts",
    "snippets_dir": "snippets",
    "results_dir": "results",
    "keras_home": ".cache/keras",
    "data_mirror": "../shared/datasets/keras",  # may be outside the project (read only)
    "local_results": ".cache/results",
    "notebooks_dir": "notebooks",
}
KEYS = (*PATH_KEYS, "timeout", "backends", "seeds")
MAX_TIMEOUT = 86400
MAX_SEEDS = 20


class _KeyLines:
    """Where [tool.dlexec] and each of its keys are written in pyproject.toml (for errors)."""

    HEADER = re.compile(r"\s*\[([^\[\]]+)\]")
    KEY = re.compile(r"\s*([A-Za-z0-9_-]+)\s*=")

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.table_line: int | None = None
        self.lines: dict[str, int] = {}
        table = None
        for number, line in enumerate(text.splitlines(), start=1):
            header = self.HEADER.match(line)
            if header:
                table = header[1].strip()
                if table == "tool.dlexec" and self.table_line is None:
                    self.table_line = number
            elif table == "tool.dlexec" and (key := self.KEY.match(line)):
                self.lines.setdefault(key[1], number)

    def at(self, key: str) -> Location:
        return Location(self.path, self.lines.get(key, self.table_line))


def checked_settings(table: Mapping[str, Any], root: Path, where: _KeyLines) -> dict[str, Any]:
    """The settings of [tool.dlexec] with defaults; AuthoringError at the key's line for an
    unknown key, a wrong type or a value out of range."""
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AuthoringError(
            f"[tool.dlexec] has no key {unknown[0]!r}{hint}; it reads {', '.join(KEYS)}",
            where.at(unknown[0]),
        )
    settings: dict[str, Any] = {}
    for key, default in PATH_KEYS.items():
        settings[key] = _path(table.get(key, default), key, root, where)
    timeout = table.get("timeout", 180)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise AuthoringError(
            f"[tool.dlexec] timeout is {timeout!r}; give seconds", where.at("timeout")
        )
    if not (math.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT):
        raise AuthoringError(
            f"[tool.dlexec] timeout is {timeout!r}; it must be > 0 and <= {MAX_TIMEOUT} seconds",
            where.at("timeout"),
        )
    settings["timeout"] = float(timeout)
    return settings | _matrix_settings(table, where)


def _path(value: object, key: str, root: Path, where: _KeyLines) -> Path:
    """A folder of [tool.dlexec], relative to the project; only the data mirror may be outside."""
    if not isinstance(value, str) or not value.strip():
        raise AuthoringError(f"[tool.dlexec] {key} is {value!r}; give a folder", where.at(key))
    path = (root / value).resolve()
    if key != "data_mirror" and not path.is_relative_to(root):
        raise AuthoringError(
            f"[tool.dlexec] {key} is {value!r}, outside the project", where.at(key)
        )
    return root / value


def _matrix_settings(table: Mapping[str, Any], where: _KeyLines) -> dict[str, Any]:
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
            where.at("backends"),
        )
    if not isinstance(seeds, int) or isinstance(seeds, bool) or not 0 <= seeds <= MAX_SEEDS:
        raise AuthoringError(
            f"[tool.dlexec] seeds is {seeds!r}; a whole number from 0 to {MAX_SEEDS}",
            where.at("seeds"),
        )
    return {"backends": tuple(dict.fromkeys(backends)), "seeds": seeds}
