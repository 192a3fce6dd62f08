"""`make check`: every claim a post declares, held against every run that `make verify` recorded.

A claim (`expect:` in a post's front matter) is evaluated on the main result and on each variant
its scope covers: the other backends with the snippet's own seed, and the further seeds on the
main backend. A comparison between two values compares them within the same run, and its margin
(subject - operand) on each seed of the main backend gives a 95% interval of the mean margin.
A claim fails when it does not hold on any run it covers, when such a run failed, when one was
never recorded for the current result (then `make verify` has to run), or, for a comparison of
two values, when its interval does not show it (includes zero; for a tie, `~=`, reaches beyond
its margin). A threshold's interval is reported; holding on every run is its test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..backends import MAIN, Variant
from ..sources.expectations import (
    NAME,
    Expectation,
    check,
    interval_text,
    interval_verdict,
    margin_of,
    number_text,
    read_expectations,
    scope_text,
    signed_number,
)
from ..stats import Interval
from ..store.records import MatrixSettings, VariantRecord, load_matrix, made_from
from ..store.results import CorruptResult, Result, load_result
from ..store.variants import wanted_variants

HOLDS, FAILS, FAILED_RUN, MISSING, OUT_OF_SCOPE = (
    "holds",
    "does not hold",
    "did not run",
    "not recorded",
    "not claimed",
)
FAILING = {FAILS, FAILED_RUN, MISSING}


@dataclass(frozen=True)
class Measurement:
    """One claim on one run: the subject's value there, and the verdict."""

    variant: Variant
    verdict: str
    value: Any = None
    detail: str = ""
    margin: float | None = None  # subject - operand on this run


@dataclass(frozen=True)
class ClaimReport:
    expectation: Expectation
    measurements: tuple[Measurement, ...]

    @property
    def seed_margins(self) -> list[float]:
        """The margin on each run of the main backend (its own seed and the further ones)."""
        return [
            m.margin
            for m in self.measurements
            if m.variant.backend == MAIN.backend and m.margin is not None
        ]

    @cached_property  # read by `failed` and `lines`: computed once
    def interval(self) -> tuple[Interval | None, bool | None]:
        return interval_verdict(self.expectation, self.seed_margins)

    @property
    def failed(self) -> bool:
        broken = any(m.verdict in FAILING for m in self.measurements)
        return broken or self.interval[1] is False

    def lines(self, root: Path | None = None) -> list[str]:
        """The claim, then the measured value on each run (and what is wrong, if anything);
        the post's path is relative to `root` when it is inside it."""
        claim = self.expectation
        post = claim.post
        if root is not None and post.resolve().is_relative_to(root.resolve()):
            post = post.resolve().relative_to(root.resolve())
        head = f"{post}:{claim.line}: {claim.text}"
        if claim.scope.narrowed:
            head += f" (claimed {scope_text(claim)}: {claim.scope.reason})"
        shown = [m for m in self.measurements if m.verdict != OUT_OF_SCOPE]
        values = " · ".join(f"{m.variant.describe()} {_shown(m)}" for m in shown)
        every_run = any(m.verdict in FAILING for m in self.measurements)
        lines = [head, f"  {'FAILS' if every_run else 'holds'}: {values}"]
        lines += [f"  {m.variant.describe()}: {m.detail}" for m in shown if m.verdict in FAILING]
        interval, proven = self.interval
        if interval is not None:
            lines.append(f"  {interval_text(self.expectation, interval, proven)}")
        return lines


def _shown(measurement: Measurement) -> str:
    if measurement.verdict in (HOLDS, FAILS):
        mark = "" if measurement.verdict == HOLDS else " ✗"
        value = measurement.value
        shown = number_text(value) if isinstance(value, float) else repr(value)
        margin = measurement.margin
        by = f" ({signed_number(margin)})" if margin is not None else ""
        return f"{shown}{by}{mark}"
    return f"({measurement.verdict})"


def claim_reports(
    posts: Iterable[Path], results_dir: Path, settings: MatrixSettings
) -> list[ClaimReport]:
    """Every claim of `posts`, measured on every run its scope covers."""
    runs = _Runs(results_dir)
    reports = []
    for post in posts:
        for claim in read_expectations(post):
            variants = [MAIN, *wanted_variants(settings.backends, settings.seeds, True)]
            measurements = tuple(_measure(claim, variant, runs) for variant in variants)
            reports.append(ClaimReport(claim, measurements))
    return reports


def _measure(claim: Expectation, variant: Variant, runs: _Runs) -> Measurement:
    if not claim.scope.covers(variant):
        return Measurement(variant, OUT_OF_SCOPE)
    values: dict[str, dict[str, Any]] = {}
    for name in sorted(claim.snippets()):
        found = runs.values(name, variant)
        if isinstance(found, str):
            return Measurement(variant, FAILED_RUN if found.startswith("failed") else MISSING,
                               detail=f"{name} {found}")  # fmt: skip
        values[name] = found
    subject = _value(claim.subject, values)
    message = check(claim, values)
    margin = margin_of(claim, values)
    if message is None:
        return Measurement(variant, HOLDS, subject, margin=margin)
    if subject is None or (NAME.match(claim.operand) and _value(claim.operand, values) is None):
        return Measurement(variant, MISSING, subject, message)
    return Measurement(variant, FAILS, subject, message, margin)


def _value(name: str, values: Mapping[str, Mapping[str, Any]]) -> Any:
    snippet, value = name.split(".", 1)
    return values.get(snippet, {}).get(value)


class _Runs:
    """The committed results and matrices, read once per snippet."""

    def __init__(self, results_dir: Path) -> None:
        self.results_dir = results_dir
        self._main: dict[str, Result | None] = {}
        self._matrix: dict[str, dict[Variant, VariantRecord]] = {}

    def main(self, name: str) -> Result | None:
        if name not in self._main:
            try:
                self._main[name] = load_result(self.results_dir / name)
            except CorruptResult:
                self._main[name] = None
        return self._main[name]

    def values(self, name: str, variant: Variant) -> dict[str, Any] | str:
        """The values `name` published on `variant`, or why there are none."""
        main = self.main(name)
        if main is None:
            return "has no committed result"
        if variant == MAIN:
            return main.values
        if name not in self._matrix:
            self._matrix[name] = load_matrix(self.results_dir / name)
        record = self._matrix[name].get(variant)
        if record is None or not made_from(record, main):
            return "was not run for its current result: run `make verify`"
        if not record.ok:
            first = (record.error or "").strip().splitlines()[:1]
            return f"failed: {first[0] if first else 'no message'}"
        return record.values
