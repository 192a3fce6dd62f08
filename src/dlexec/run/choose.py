"""Who executes snippets: one small interface, whatever runs them.

An executor takes a `Job` (everything needed to run one snippet, picklable) and returns a
`Future` of its `Outcome` (the result record, its figure files, and the error if it failed).
The engine's cache, freshness rules, locks and atomic storage stay on the build machine and do
not care who executed:

- `local` (default): a pool of sandboxed kernels on this machine, BLOG_JOBS at once, fitted to
  each snippet's resource claim (`pool.LocalExecutor`; BLOG_JOBS=1 is one kernel at a time);
- `ray`: a Ray cluster (`BLOG_EXECUTOR=ray`, address from RAY_ADDRESS), each snippet a task
  carrying its claim (`ray_executor.RayExecutor`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from ..errors import EngineError
from .base import Executor
from .sandbox import Sandbox

EXECUTORS = ("local", "ray")


def make_executor(
    environ: Mapping[str, str] | None,
    sandbox: Callable[[], Sandbox | None],
    log: Callable[[str], None],
) -> Executor:
    """The executor BLOG_EXECUTOR names (`local` unless set)."""
    environ = os.environ if environ is None else environ
    name = environ.get("BLOG_EXECUTOR", "local").strip().lower() or "local"
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(environ, log)
    if name != "local":
        raise EngineError(f"BLOG_EXECUTOR={name!r} is not one of {', '.join(EXECUTORS)}")
    from .local import LocalExecutor

    return LocalExecutor(environ, sandbox(), log)
