"""Limits that both the kernel side and the checks of a stored result need."""

from __future__ import annotations

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # one figure, decoded


MAX_STRING_VALUE = 2000
