"""YAML settings (post front matter, snippet headers) read with the line of every key and item.

A message about a bad setting names the line it is on: the document is composed once, and each
node's start mark gives its line (0-based within the YAML text; callers add their offset).
"""

from __future__ import annotations

from typing import Any

import yaml

from ..errors import AuthoringError, Location, quoted

MAX_TIMEOUT_S = 86_400  # a day: anything longer is a typo, not a training run


def load(text: str) -> tuple[Any, yaml.Node | None]:
    """The document's value and its node (None for an empty document); yaml.YAMLError if bad."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return (None if node is None else loader.construct_document(node)), node
    finally:
        loader.dispose()


def key_nodes(node: yaml.Node | None) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """Top-level key -> (key node, value node) of a mapping document; {} for anything else."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        key.value: (key, value) for key, value in node.value if isinstance(key, yaml.ScalarNode)
    }


def construct(node: yaml.Node) -> Any:
    """The value of one node of a loaded document, built as `load` builds the whole."""
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def repeated_key(node: yaml.MappingNode) -> tuple[yaml.Node, yaml.Node] | None:
    """(first key node, key node repeating it) for the first key a mapping node of a loaded
    document repeats; None when every key is written once.

    `load` builds a dict, which keeps a repeated key's last value and silently drops the
    others. Keys compare as values (`a` and `"a"` are one key); keys merged in with `<<`
    count as written in the mapping, so overriding one is a repeat too.
    """
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = construct(key_node)
        if key in seen:
            return seen[key], key_node
        seen[key] = key_node
    return None


def item_nodes(node: yaml.Node) -> list[yaml.Node]:
    """The items of a sequence node; a lone node stands for itself (`data: x` means `[x]`)."""
    return list(node.value) if isinstance(node, yaml.SequenceNode) else [node]


def check_number(
    value: object, what: str, location: Location, *, low: float, high: float, low_open: bool
) -> float:
    """`value` as a float if low (<, or <= unless low_open) value <= high; else AuthoringError.

    bool is refused although Python counts it an int: `timeout: true` is a mistake, not 1 s.
    The range test also refuses .nan (every comparison is false) and .inf.
    """
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and (low < value or (low == value and not low_open)) and value <= high:
        return float(value)
    rule = f"a finite number {'>' if low_open else '>='} {low:g} and <= {high:g}"
    raise AuthoringError(f"{what} is {quoted(value)}; it must be {rule}", location)


def check_timeout(value: object, what: str, location: Location) -> float:
    """A time limit in seconds: more than 0, at most MAX_TIMEOUT_S."""
    return check_number(value, what, location, low=0, high=MAX_TIMEOUT_S, low_open=True)
