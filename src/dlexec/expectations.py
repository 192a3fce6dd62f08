"""Checked claims: a post declares what its results must show, tests hold it to that.

    expect:
      mnist_cnn.cnn_test_accuracy: ">= 0.97"
      reuters_topics.topics_test_accuracy: "> reuters_topics.majority_accuracy"

The right-hand side is a number or another value of a snippet. A claim the committed results
contradict fails with the post, the claim and the measured value.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AuthoringError, Location
from .posts import front_matter

OPERATORS = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
CLAIM = re.compile(r"^\s*(>=|<=|>|<|==)\s*(\S+)\s*$")
NAME = re.compile(r"^([A-Za-z_][\w-]*)\.([A-Za-z_]\w*)$")


@dataclass(frozen=True)
class Expectation:
    """`subject` (snippet.value) must compare with `operand` (a number or snippet.value)."""

    post: Path
    line: int
    subject: str
    op: str
    operand: str

    @property
    def text(self) -> str:
        return f"{self.subject} {self.op} {self.operand}"

    def snippets(self) -> set[str]:
        names = {self.subject, self.operand} if NAME.match(self.operand) else {self.subject}
        return {name.split(".", 1)[0] for name in names}


def read_expectations(post: Path) -> list[Expectation]:
    """The `expect` mapping of a post's front matter, validated."""
    text = post.read_text(encoding="utf-8")
    meta, _ = front_matter(text, post)
    declared = meta.get("expect") or {}
    line = _line_of(text, "expect:")
    if not isinstance(declared, dict):
        raise AuthoringError(
            "front matter 'expect' must map snippet.value to a claim", Location(post, line)
        )
    found = []
    for subject, claim in declared.items():
        match = CLAIM.match(str(claim))
        if not NAME.match(str(subject)) or match is None:
            raise AuthoringError(
                f'expectation {subject}: {claim!r} should read snippet.value: "<op> <number or '
                f'snippet.value>" with <op> one of {", ".join(OPERATORS)}',
                Location(post, _line_of(text, f"{subject}:") or line),
            )
        found.append(
            Expectation(
                post, _line_of(text, f"{subject}:") or line, str(subject), match[1], match[2]
            )
        )
    return found


def check(expectation: Expectation, values: dict[str, dict[str, Any]]) -> str | None:
    """None when the claim holds, else a message with the post, the claim and what was measured."""
    measured = _value(expectation.subject, values)
    reference = (
        _value(expectation.operand, values)
        if NAME.match(expectation.operand)
        else _number(expectation.operand)
    )
    where = f"{expectation.post}:{expectation.line}"
    if measured is None or reference is None:
        missing = expectation.subject if measured is None else expectation.operand
        return f"{where}: expectation {expectation.text}: no committed value {missing}"
    if OPERATORS[expectation.op](measured, reference):
        return None
    measured_text = f"measured {expectation.subject} = {measured!r}"
    if NAME.match(expectation.operand):
        measured_text += f", {expectation.operand} = {reference!r}"
    return f"{where}: expectation {expectation.text} does not hold: {measured_text}"


def _value(name: str, values: dict[str, dict[str, Any]]) -> Any:
    snippet, value = name.split(".", 1)
    return values.get(snippet, {}).get(value)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _line_of(text: str, needle: str) -> int:
    return next(
        (n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith(needle)), 1
    )
