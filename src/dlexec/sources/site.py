"""The site's `mkdocs.yml` as plain data (its `!!python/name` tags left unresolved)."""

from __future__ import annotations

from pathlib import Path

import yaml


class _MkDocsLoader(yaml.SafeLoader):
    """mkdocs.yml as plain YAML: its tags (`!!python/name:...`, `!ENV`) are read as None."""


_MkDocsLoader.add_multi_constructor("", lambda loader, suffix, node: None)


def mkdocs_settings(root: Path) -> dict:
    """The top-level settings of `root/mkdocs.yml`, unvalidated; {} when it cannot be read."""
    try:
        settings = yaml.load((root / "mkdocs.yml").read_text(encoding="utf-8"), _MkDocsLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return settings if isinstance(settings, dict) else {}
