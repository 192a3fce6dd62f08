"""Placeholders: format a snippet's published values for the prose of a post."""

from __future__ import annotations

import html
import re
from typing import Any

from .errors import AuthoringError
from .posts import Placeholder

# Characters Python-Markdown (and Jupyter) read as markup and let a backslash escape.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!])")


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
    # Escape Markdown too: a published string must not become a link, emphasis or code.
    return html.escape(MARKDOWN_SPECIAL.sub(r"\\\1", text))
