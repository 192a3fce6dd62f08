"""Placeholders: format a snippet's published values for the prose of a post."""

from __future__ import annotations

import re
from typing import Any

from ..errors import AuthoringError
from ..numbers import is_number
from .posts import FILTERS, Placeholder

# A value passes through Markdown (and its extensions: arithmatex reads `\\(` and `$` as math,
# emoji `:name:`, tables `|`, attr_list `{...}`) and then HTML, in a page and in a notebook.
# A backslash escape is itself syntax for some of them (`\\(` opens math), so every ASCII
# punctuation character becomes a numeric character reference, which each of them passes
# through as text; `.`, `,` and `%` stay as they are (numbers read the same in the source).
PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")
PLAIN = frozenset(".,%")


def literal_markdown(text: str) -> str:
    """`text` shown as itself in Markdown, HTML and the math extension."""
    return PUNCTUATION.sub(lambda m: m[0] if m[0] in PLAIN else f"&#{ord(m[0])};", text)


def format_value(
    values: dict[str, Any], placeholder: Placeholder, minus_values: dict[str, Any] | None = None
) -> str:
    """The value (for `a.x - b.y`, the difference; `minus_values` are b's values, a's by
    default) formatted with the placeholder's spec and escaped; else AuthoringError."""
    subject = _value_of(values, placeholder.snippet, placeholder.value, placeholder)
    _check_filter(placeholder)
    if placeholder.minus is None:
        # Escape Markdown too: a published string must not become a link, emphasis or code.
        return literal_markdown(formatted(subject, placeholder))
    snippet, value = placeholder.minus
    other = _value_of(values if minus_values is None else minus_values, snippet, value, placeholder)
    if not (is_number(subject) and is_number(other)):
        raise AuthoringError(
            f"placeholder {placeholder.text}: a difference needs two numbers, not "
            f"{type(subject).__name__} and {type(other).__name__}",
            placeholder.location,
        )
    return literal_markdown(signed(subject - other, placeholder))


def _value_of(values: dict[str, Any], snippet: str, value: str, placeholder: Placeholder) -> Any:
    if value not in values:
        known = ", ".join(sorted(values)) or "none"
        raise AuthoringError(
            f"placeholder {placeholder.text}: snippet {snippet!r} has no value "
            f"{value!r} (its values: {known})",
            placeholder.location,
        )
    return values[value]


def _check_filter(placeholder: Placeholder) -> None:
    problem = None
    if placeholder.filter and placeholder.filter not in FILTERS:
        problem = f"unknown filter {placeholder.filter!r} (known: {', '.join(FILTERS)})"
    elif placeholder.filter == "wilson" and placeholder.minus is not None:
        problem = "the wilson filter is for one accuracy; a difference takes `| ci`"
    if problem:
        raise AuthoringError(f"placeholder {placeholder.text}: {problem}", placeholder.location)


def points(text: str) -> str:
    """A difference or a half-width formatted as a percentage: '0.2%' reads as relative, so it
    is written in percentage points ('0.2 pp'); other numbers stay as they are."""
    return f"{text[:-1]} pp" if text.endswith("%") else text


def signed(value: float, placeholder: Placeholder) -> str:
    """A difference with its sign always written: '+3.5 pp', '\N{MINUS SIGN}0.012'."""
    sign = "+" if value >= 0 else "\N{MINUS SIGN}"
    return sign + points(formatted(abs(value), placeholder))


# Python's format spec: [[fill]align][sign][z][#][0][width][grouping][.precision][type].
FORMAT_SPEC = re.compile(
    r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[_,]?(?:\.(?P<precision>\d*))?[a-zA-Z%]?", re.S
)
# A number in prose needs neither more: a larger one only makes a build slow and a page huge.
MAX_WIDTH = 100
MAX_PRECISION = 30


def check_spec(placeholder: Placeholder) -> None:
    """AuthoringError, at the placeholder's line, for a width or precision beyond the limits."""
    parts = FORMAT_SPEC.fullmatch(placeholder.spec)
    if parts is None:
        return  # format() says what is wrong with it
    for name, limit in (("width", MAX_WIDTH), ("precision", MAX_PRECISION)):
        digits = (parts[name] or "").lstrip("0")
        if len(digits) > 3 or (digits and int(digits) > limit):
            shown = digits if len(digits) <= 12 else f"{digits[:12]}... ({len(digits)} digits)"
            raise AuthoringError(
                f"placeholder {placeholder.text[:80]}: format {name} {shown} is more than {limit}",
                placeholder.location,
            )


def formatted(value: Any, placeholder: Placeholder) -> str:
    """`value` with the placeholder's spec (`.4g` for a float without one); AuthoringError if
    the spec does not fit the value or asks for a width or precision beyond the limits."""
    check_spec(placeholder)
    spec = placeholder.spec or (".4g" if isinstance(value, float) else "")
    try:
        return format(value, spec)
    except (ValueError, TypeError) as error:
        raise AuthoringError(
            f"placeholder {placeholder.text}: {error}", placeholder.location
        ) from None


def value_range(spread: list[Any], placeholder: Placeholder) -> str:
    """The lowest and highest of `spread` (numbers), formatted, as a range."""
    low, high = formatted(min(spread), placeholder), formatted(max(spread), placeholder)
    return literal_markdown(join_range(low, high))


def join_range(low: str, high: str) -> str:
    """Two formatted bounds with an en dash between and a percent sign written once; one of
    them when they look the same."""
    if low == high:
        return low
    if low.endswith("%") and high.endswith("%"):
        low = low[:-1]
    return f"{low}\N{EN DASH}{high}"
