"""Checked claims: a post declares what its results must show, tests hold it to that.

    expect:
      mnist_cnn.cnn_test_accuracy: ">= 0.97"
      reuters_topics.topics_test_accuracy: "> reuters_topics.majority_accuracy"
      airline_mlp_rnn.rnn_mae_passengers:
        claim: "< airline_mlp_rnn.mlp_mae_passengers"
        backends: [tensorflow]      # only there (the default: every backend `make verify` runs)
        seeds: false                # only with the snippet's own seed (default: every seed)
        reason: "why it is narrower, shown to readers"
      mnist_autoencoder.reconstruction_mse:   # two claims about one value: a list of claims
        - "< mnist_autoencoder.pca_mse"       # (each a string or a mapping as above)
        - "<= 0.03"

A key is written once: YAML keeps only the last value of a repeated key, so a repeat would drop
a claim silently; it is an error, at its line. Two claims about one value are a list.

The right-hand side is a number or another value of a snippet (a baseline the snippet computes,
say). A claim the committed results contradict fails with the post, the claim and the measured
value; `claims` holds every claim against every backend and seed `make verify` recorded.
"""

from __future__ import annotations

import operator
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..backends import BACKENDS, Variant
from ..errors import AuthoringError, Location
from ..numbers import is_number
from ..stats import Interval, mean_interval
from . import yaml_lines
from .posts import PostDocument, front_matter_nodes, read_post

OPERATORS = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "~=": None,  # a tie: within the claim's `margin:` on every run, and its interval too
}
CLAIM = re.compile(r"^\s*(>=|<=|~=|>|<|==)\s*(\S+)\s*$")
NAME = re.compile(r"^([A-Za-z_][\w-]*)\.([A-Za-z_]\w*)$")


SCOPE_KEYS = {"claim", "backends", "seeds", "reason", "margin"}


@dataclass(frozen=True)
class Scope:
    """Where a claim is meant to hold: on `backends` (None: every one), with every seed or only
    the snippet's own; a narrower scope says why (`reason`, shown on the page)."""

    backends: tuple[str, ...] | None = None
    seeds: bool = True
    reason: str | None = None

    def covers(self, variant: Variant) -> bool:
        in_backends = self.backends is None or variant.backend in self.backends
        return in_backends and (self.seeds or variant.seed == 0)

    @property
    def narrowed(self) -> bool:
        return self.backends is not None or not self.seeds


@dataclass(frozen=True)
class Expectation:
    """`subject` (snippet.value) must compare with `operand` (a number or snippet.value)."""

    post: Path
    line: int
    subject: str
    op: str
    operand: str
    scope: Scope = Scope()
    margin: float | None = None  # a tie's (`~=`) largest difference that still counts as one

    @property
    def text(self) -> str:
        return f"{self.subject} {self.op} {self.operand}"

    def snippets(self) -> set[str]:
        names = {self.subject, self.operand} if NAME.match(self.operand) else {self.subject}
        return {name.split(".", 1)[0] for name in names}


def scope_text(claim: Expectation) -> str:
    """'on TensorFlow with its own seed': where a narrowed claim is meant to hold."""
    from ..backends import BACKEND_NAMES

    parts = []
    if claim.scope.backends is not None:
        parts.append("on " + ", ".join(BACKEND_NAMES[b] for b in claim.scope.backends))
    if not claim.scope.seeds:
        parts.append("with its own seed")
    return " ".join(parts)


def read_expectations(post: Path) -> list[Expectation]:
    """The `expect` mapping of a post's front matter, validated: an Expectation per claim, each
    with the line it is written on (commands that check claims without building)."""
    meta, nodes = front_matter_nodes(read_post(post), post)
    return expectations_in(post, meta, nodes)


def document_expectations(document: PostDocument) -> list[Expectation]:
    """The claims of a post the build has read (no second read of its file)."""
    return expectations_in(document.post, document.meta, document.nodes)


def expectations_in(
    post: Path, meta: Mapping[str, Any], nodes: Mapping[str, tuple[yaml.Node, yaml.Node]]
) -> list[Expectation]:
    """The claims of front matter `meta`, at their lines (`nodes`: each key's YAML nodes)."""
    if not meta.get("expect"):
        return []
    expect_key, declared = nodes["expect"]
    if not isinstance(declared, yaml.MappingNode):
        raise AuthoringError(
            "front matter 'expect' must map snippet.value to a claim",
            Location(post, _line(expect_key)),
        )
    _refuse_repeated_keys(post, declared)
    found = []
    for key_node, value_node in declared.value:
        subject = yaml_lines.construct(key_node)
        if not isinstance(value_node, yaml.SequenceNode):
            found.append(_expectation(post, subject, value_node, _line(key_node)))
            continue
        if not value_node.value:
            raise AuthoringError(
                f"expectation {subject}: the list of claims is empty",
                Location(post, _line(key_node)),
            )
        found += [_expectation(post, subject, item, _line(item)) for item in value_node.value]
    return found


def _expectation(post: Path, subject: Any, node: yaml.Node, line: int) -> Expectation:
    """One claim about `subject`: a string, or a mapping with `claim:` and its scope."""
    where = Location(post, line)
    if isinstance(node, yaml.MappingNode):
        _refuse_repeated_keys(post, node, subject)
    claim, scope = _claim_and_scope(subject, yaml_lines.construct(node), where)
    match = CLAIM.match(str(claim))
    if not NAME.match(str(subject)) or match is None:
        raise AuthoringError(
            f'expectation {subject}: {claim!r} should read snippet.value: "<op> <number or '
            f'snippet.value>" with <op> one of {", ".join(OPERATORS)}',
            where,
        )
    margin = _margin(subject, match[1], yaml_lines.construct(node), where)
    return Expectation(post, line, str(subject), match[1], match[2], scope, margin)


def _margin(subject: Any, op: str, entry: Any, where: Location) -> float | None:
    """A tie (`~=`) states its margin, a positive number; no other claim has one."""
    margin = entry.get("margin") if isinstance(entry, dict) else None
    if op != "~=":
        if margin is not None:
            raise AuthoringError(f"expectation {subject}: only a tie (~=) has a `margin:`", where)
        return None
    if not (isinstance(margin, int | float) and not isinstance(margin, bool) and margin > 0):
        raise AuthoringError(
            f'expectation {subject}: a tie states how close counts as equal: `claim: "~= ..."` '
            "with `margin: 0.005` (a positive number, in the value's units)",
            where,
        )
    return float(margin)


def _refuse_repeated_keys(post: Path, node: yaml.MappingNode, subject: Any = None) -> None:
    """A key written twice under `expect:` (or, with `subject`, in the mapping of a claim about
    it) is an error at the repeat: YAML keeps the last value only, silently dropping the other."""
    repeat = yaml_lines.repeated_key(node)
    if repeat is None:
        return
    first, again = repeat
    key = yaml_lines.construct(again)
    if subject is None:
        message = (
            f"expectation {key} is written twice (first at line {_line(first)}): YAML keeps "
            "only the last claim and drops the other; write two claims about one value as a "
            f'list under one key: `{key}:`, then a `- "<op> <number or snippet.value>"` line '
            "per claim"
        )
    else:
        message = (
            f"expectation {subject}: `{key}:` is written twice (first at line {_line(first)}): "
            "YAML keeps only the last; write it once (two claims about one value are a list "
            "of claims)"
        )
    raise AuthoringError(message, Location(post, _line(again)))


def _line(node: yaml.Node) -> int:
    """The file line of a front matter node (its YAML line 0 is the post's line 2)."""
    return node.start_mark.line + 2


def _claim_and_scope(subject: Any, entry: Any, where: Location) -> tuple[Any, Scope]:
    """A claim is a string, or a mapping with `claim:` and its scope."""
    if not isinstance(entry, dict):
        return entry, Scope()
    unknown = set(entry) - SCOPE_KEYS
    if unknown or "claim" not in entry:
        raise AuthoringError(
            f"expectation {subject}: a claim with a scope has `claim:` and may have "
            f"`backends:`, `seeds:`, `reason:` and `margin:` "
            f"(got {', '.join(sorted(map(str, entry)))})",
            where,
        )
    backends = entry.get("backends")
    if backends is not None and (
        not isinstance(backends, list) or not backends or not set(backends) <= set(BACKENDS)
    ):
        raise AuthoringError(
            f"expectation {subject}: `backends:` lists some of {', '.join(BACKENDS)}", where
        )
    seeds = entry.get("seeds", True)
    if not isinstance(seeds, bool):
        raise AuthoringError(f"expectation {subject}: `seeds:` is true or false", where)
    reason = entry.get("reason")
    scope = Scope(tuple(backends) if backends else None, seeds, reason)
    if scope.narrowed and not (isinstance(reason, str) and reason.strip()):
        raise AuthoringError(
            f"expectation {subject}: a claim narrowed to some backends or seeds needs a "
            "`reason:` (readers see it)",
            where,
        )
    return entry["claim"], scope


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
    if _holds(expectation, measured, reference):
        return None
    measured_text = f"measured {expectation.subject} = {measured!r}"
    if NAME.match(expectation.operand):
        measured_text += f", {expectation.operand} = {reference!r}"
    return f"{where}: expectation {expectation.text} does not hold: {measured_text}"


def _holds(expectation: Expectation, measured: Any, reference: Any) -> bool:
    if expectation.op == "~=":
        numbers = is_number(measured) and is_number(reference)
        return numbers and abs(measured - reference) <= expectation.margin
    return OPERATORS[expectation.op](_float32(measured), _float32(reference))


def _float32(value: Any) -> Any:
    """Keras computes metrics in float32: a decimal threshold is compared at that precision
    (1,900 of 2,000 is 0.949999988 in float32, and holds `>= 0.95`)."""
    if not isinstance(value, float):
        return value
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:  # beyond float32's range: as it is
        return value


def _value(name: str, values: dict[str, dict[str, Any]]) -> Any:
    snippet, value = name.split(".", 1)
    return values.get(snippet, {}).get(value)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def margin_of(expectation: Expectation, values: dict[str, dict[str, Any]]) -> float | None:
    """How far the subject is from the operand on one run (subject - operand; None when
    either is not a number): positive is on the right side of `>`, negative of `<`."""
    measured = _value(expectation.subject, values)
    reference = (
        _value(expectation.operand, values)
        if NAME.match(expectation.operand)
        else _number(expectation.operand)
    )
    if not (is_number(measured) and is_number(reference)):
        return None
    return float(_float32(measured) - _float32(reference))  # at the precision `check` compares


def interval_verdict(
    expectation: Expectation, margins: list[float]
) -> tuple[Interval | None, bool | None]:
    """The 95% interval of the mean margin over the seed runs, and, for a comparison of two
    values, whether it shows the claim: wholly above zero for `>`/`>=`, below for `<`/`<=`,
    within ±margin for a tie (`~=`). A threshold (`>= 0.97`) gets its interval with no verdict:
    holding on every run is its test. (None, None) where no interval applies: `==`, a claim
    for its own seed only, one run."""
    if expectation.op == "==" or not expectation.scope.seeds or len(margins) < 2:
        return None, None
    interval = mean_interval(margins)
    if not NAME.match(expectation.operand):
        return interval, None
    shown = {
        ">": interval.low > 0,
        ">=": interval.low >= 0,
        "<": interval.high < 0,
        "<=": interval.high <= 0,
        "~=": expectation.margin is not None and interval.within(expectation.margin),
    }[expectation.op]
    return interval, shown


def interval_text(expectation: Expectation, interval: Interval, shown: bool | None) -> str:
    """'margin +0.033 (95% CI +0.027 to +0.039, 5 seeds): shown' and, when not shown, why;
    a threshold's interval comes without a verdict."""
    low, center, high = (signed_number(v) for v in (interval.low, interval.center, interval.high))
    text = f"margin {center} (95% CI {low} to {high}, {interval.n} seeds)"
    if shown is None:
        return f"mean {text}"
    if shown:
        return f"{text}: shown"
    if expectation.op == "~=":
        return f"{text}: NOT SHOWN, the interval reaches beyond ±{expectation.margin:g}"
    return f"{text}: NOT SHOWN, the interval includes zero (or declare a tie: ~= with a margin)"


def number_text(value: float, sign: str = "") -> str:
    """'0.0328', '14,250' (no exponent for thousands); sign '+' writes it always."""
    return f"{value:{sign},.0f}" if abs(value) >= 1000 else f"{value:{sign}.4g}"


def signed_number(value: float) -> str:
    """'+0.0328', '-2,747', '-0.0004609'."""
    return number_text(value, "+")
