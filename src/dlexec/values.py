"""Placeholders: format a snippet's published values for the prose of a post."""

from __future__ import annotations

import html
from typing import Any

from .errors import AuthoringError
from .posts import Placeholder


def format_value(values: dict[str, Any], placeholder: Placeholder) -> str:
    """The value formatted with the placeholder's spec and HTML-escaped; else AuthoringError."""
    if placeholder.value not in values:
        known = ", ".join(sorted(values)) or "none"
        raise AuthoringError(
            f"placeholder {placeholder.text}: snippet {placeholder.snippet!r} has no value "
            f"{placeholder.value!r} (its values: {known})",
            placeholder.location,
        )
    value = values[placeholder.value]
    spec = placeholder.spec or (".4g" if isinstance(value, float) else "")
    try:
        text = format(value, spec)
    except (ValueError, TypeError) as error:
        raise AuthoringError(
            f"placeholder {placeholder.text}: {error}", placeholder.location
        ) from None
    return html.escape(text)
