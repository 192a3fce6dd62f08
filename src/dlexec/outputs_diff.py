"""`make outputs-diff REF=...`: which snippets' committed results changed since a git ref, why
(which cache-key inputs changed) and how (every numeric value, before and after)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from .errors import AuthoringError

RESULT = "result.json"


def results_at(root: Path, results_dir: Path, ref: str) -> dict[str, dict[str, Any]]:
    """Snippet folder -> result document, as committed at `ref`."""
    relative = results_dir.relative_to(root).as_posix()
    listing = _git(root, "ls-tree", "-r", "--name-only", ref, "--", relative)
    found = {}
    for path in listing.splitlines():
        if path.endswith(f"/{RESULT}"):
            found[path[len(relative) + 1 : -len(RESULT) - 1]] = json.loads(
                _git(root, "show", f"{ref}:{path}")
            )
    return found


def results_now(results_dir: Path) -> dict[str, dict[str, Any]]:
    """Snippet folder -> result document, in the working tree."""
    return {
        path.parent.relative_to(results_dir).as_posix(): json.loads(
            path.read_text(encoding="utf-8")
        )
        for path in sorted(results_dir.rglob(RESULT))
    }


def describe(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    """Readable lines: added, removed and changed results with reasons and value changes."""
    lines = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old is None:
            lines.append(f"{name}: new result")
        elif new is None:
            lines.append(f"{name}: result removed")
        elif old.get("key") != new.get("key"):
            lines.append(f"{name}: re-executed ({_reasons(old['inputs'], new['inputs'])})")
            lines += _value_changes(old.get("values", {}), new.get("values", {}))
    return lines or ["no result changed"]


def _reasons(old: dict[str, Any], new: dict[str, Any]) -> str:
    labels = {"source_sha256": "snippet source", "engine": "engine version", "data": "data files"}
    changed = [
        labels.get(k, k) + ("" if k in labels else f" {old.get(k)} -> {new.get(k)}")
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]
    return ", ".join(changed) or "same inputs"


def _value_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    lines = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b or not all(
            isinstance(v, int | float | type(None)) and not isinstance(v, bool) for v in (a, b)
        ):
            continue
        delta = f" ({b - a:+.4g})" if a is not None and b is not None else ""
        lines.append(f"    {key}: {_show(a)} -> {_show(b)}{delta}")
    return lines


def _show(value: Any) -> str:
    return (
        "missing" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
    )


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise AuthoringError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout
