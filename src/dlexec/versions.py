"""Installed versions of the packages a result depends on, read from their metadata."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version


@cache
def installed_version(package: str) -> str:
    """Version of an installed distribution, read from its metadata (no import of TensorFlow)."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
