"""`make outputs-diff REF=...`: which snippets' committed results changed since a git ref, why
(which cache-key inputs changed) and how (values before and after: numbers and strings).

A new result lists its values, a removed one says so, a changed one lists only the values that
changed (`before → after`). Results folders whose snippet no longer exists (a rename or a
deletion leaves `results/<old>/` behind) are reported with how to remove them; nothing is
deleted here.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import AuthoringError
from ..git import git
from ..numbers import is_number

RESULT = "result.json"
MAX_SHOWN = 80  # characters of a value's repr before it is cut with "…"
LABELS = {"source_sha256": "snippet source", "engine": "engine version", "data": "data files"}


def report(root: Path, results_dir: Path, snippets_dir: Path, ref: str) -> list[str]:
    """What `dlexec diff REF` prints: the results changed since `ref`, then orphan folders."""
    lines = describe(results_at(root, results_dir, ref), results_now(results_dir))
    return lines + describe_orphans(root, results_dir, snippets_dir)


def results_at(root: Path, results_dir: Path, ref: str) -> dict[str, dict[str, Any]]:
    """Snippet folder -> result document, as committed at `ref`."""
    relative = results_dir.relative_to(root).as_posix()
    listing = git(root, "ls-tree", "-r", "--name-only", ref, "--", relative)
    found = {}
    for path in listing.splitlines():
        if path.endswith(f"/{RESULT}"):
            found[path[len(relative) + 1 : -len(RESULT) - 1]] = _parse(
                git(root, "show", f"{ref}:{path}"), f"{ref}:{path}"
            )
    return found


def results_now(results_dir: Path) -> dict[str, dict[str, Any]]:
    """Snippet folder -> result document, in the working tree."""
    return {
        path.parent.relative_to(results_dir).as_posix(): _parse(
            path.read_text(encoding="utf-8"), str(path)
        )
        for path in sorted(results_dir.rglob(RESULT))
    }


def describe(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    """Readable lines: added, removed and changed results with reasons and value changes."""
    lines = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old is None and new is not None:
            renamed = _same_source(new, before, after)
            hint = f" (same snippet source as removed {renamed}: renamed?)" if renamed else ""
            lines.append(f"{name}: new result{hint}")
            lines += [f"    {key}: {_show(value)}" for key, value in _values(new).items()]
        elif new is None:
            lines.append(f"{name}: result removed")
        elif old.get("key") != new.get("key"):
            reasons = _reasons(old.get("inputs", {}), new.get("inputs", {}))
            changes = _value_changes(_values(old), _values(new))
            same = "" if changes else "; values unchanged"
            lines.append(f"{name}: re-executed ({reasons}){same}")
            lines += changes
        elif changes := _value_changes(_values(old), _values(new)):
            lines.append(f"{name}: values changed with the same cache key (run again?)")
            lines += changes
    return lines or ["no result changed"]


def orphans(results_dir: Path, snippets_dir: Path) -> list[str]:
    """Results folders (relative, e.g. "old_name") whose snippet `<name>.py` does not exist.

    A folder counts when it holds files itself; folders that only group others (results of
    snippets in subfolders) do not."""
    if not results_dir.is_dir():
        return []
    folders = {path.parent for path in results_dir.rglob("*") if path.is_file()}
    names = [folder.relative_to(results_dir).as_posix() for folder in folders]
    return sorted(
        name for name in names if name != "." and not (snippets_dir / f"{name}.py").is_file()
    )


def describe_orphans(root: Path, results_dir: Path, snippets_dir: Path) -> list[str]:
    """Readable lines about each orphan results folder and how to remove it (nothing is
    removed here): empty when there is none."""
    names = orphans(results_dir, snippets_dir)
    if not names:
        return []
    sources = _snippet_sources(snippets_dir, root)
    lines = [f"orphan results ({len(names)}): no snippet produces them any more"]
    for name in names:
        folder = _relative(results_dir / name, root)
        snippet = _relative(snippets_dir / f"{name}.py", root)
        document = _read_result(results_dir / name)
        source = (document or {}).get("inputs", {}).get("source_sha256")
        moved = sources.get(source) if source else None
        hint = f"; {moved} has the same source: renamed?" if moved else ""
        lines.append(f"{folder}/: {snippet} does not exist{hint}")
        lines.append(f"    remove it: {_remove_command(root, folder)}")
    return lines


def _values(document: dict[str, Any]) -> dict[str, Any]:
    values = document.get("values")
    return values if isinstance(values, dict) else {}


def _same_source(
    new: dict[str, Any], before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> str | None:
    """A result removed since the ref whose snippet source is that of `new` (a rename)."""
    source = new.get("inputs", {}).get("source_sha256")
    for name, old in sorted(before.items()):
        if name not in after and source and old.get("inputs", {}).get("source_sha256") == source:
            return name
    return None


def _reasons(old: dict[str, Any], new: dict[str, Any]) -> str:
    changed = [
        LABELS.get(k, k) + ("" if k in LABELS else f" {old.get(k)} → {new.get(k)}")
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]
    return ", ".join(changed) or "same inputs"


def _value_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One line per value that changed, in the order the snippet publishes them."""
    lines = []
    for key in _ordered([new, old]):
        a, b = old.get(key, _ABSENT), new.get(key, _ABSENT)
        if _same(a, b):
            continue
        lines.append(f"    {key}: {_show(a)} → {_show(b)}{_detail(a, b)}")
    return lines


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT = _Absent()


def _ordered(dicts: Iterable[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for values in dicts for key in values))


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (1 and 1.0 or True differ); NaN is the same as NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _detail(a: Any, b: Any) -> str:
    """The change of a number; where two long strings differ, when their shown parts agree."""
    if is_number(a) and is_number(b):
        return f" ({b - a:+.4g})"
    if isinstance(a, str) and isinstance(b, str) and _show(a) == _show(b):
        first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        where = min(len(a), len(b)) if first is None else first
        return f" (first difference at character {where})"
    return ""


def _show(value: Any) -> str:
    """A value as the diff prints it: numbers as `.4g`, anything else as a repr cut at
    MAX_SHOWN characters."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, _Absent) or is_number(value):
        return repr(value)
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise AuthoringError(f"{where}: not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise AuthoringError(f"{where}: not a result (expected a JSON object)")
    return document


def _read_result(folder: Path) -> dict[str, Any] | None:
    try:
        document = json.loads((folder / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _remove_command(root: Path, folder: str) -> str:
    """`git rm -r` for a folder git tracks, `rm -r` for one it does not."""
    try:
        tracked = git(root, "ls-files", "--", folder).strip()
    except AuthoringError:  # not a git repository
        tracked = ""
    return f"git rm -r {folder}" if tracked else f"rm -r {folder}"


def _snippet_sources(snippets_dir: Path, root: Path) -> dict[str, str]:
    """sha256 of each snippet's text (what the cache key hashes) -> its path, for rename hints."""
    if not snippets_dir.is_dir():
        return {}
    return {
        hashlib.sha256(path.read_text(encoding="utf-8").encode()).hexdigest(): _relative(path, root)
        for path in sorted(snippets_dir.rglob("*.py"))
    }


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
