"""Engine configuration: `[tool.dlexec]` in pyproject.toml, overridden by environment variables."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from .errors import AuthoringError, Location


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

    def with_environment(self, environ: dict[str, str] | os._Environ[str]) -> EngineConfig:
        """Apply BLOG_EXECUTE (auto|never|always) and BLOG_DATA_MIRROR."""
        mode_name = environ.get("BLOG_EXECUTE", "auto").strip().lower() or "auto"
        try:
            mode = Mode(mode_name)
        except ValueError:
            choices = ", ".join(m.value for m in Mode)
            raise AuthoringError(f"BLOG_EXECUTE={mode_name!r} is not one of {choices}") from None
        mirror = environ.get("BLOG_DATA_MIRROR")
        return replace(
            self, mode=mode, data_mirror=Path(mirror).resolve() if mirror else self.data_mirror
        )

    def relative(self, path: Path) -> Path:
        """`path` relative to the project root when inside it, for messages."""
        try:
            return path.resolve().relative_to(self.root)
        except ValueError:
            return path


def _matrix_settings(table: dict, pyproject: Path) -> dict:
    """`backends` (some of tensorflow, jax, torch) and `seeds` (0 or more) of [tool.dlexec]."""
    from .variants import BACKENDS, MAIN_BACKEND

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
