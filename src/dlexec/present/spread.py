"""A value across its runs, for the prose: the placeholder filters `range`, `mean`, `sd`, `ci`,
`rerun` and `wilson`, on one value or on the difference of two (`{{ a.x - b.y:.1% | ci }}`).

The runs are the main backend's: the main result (seed offset 0) and every further seed
`make verify` recorded for it. A difference pairs the two values run by run, with the same seed
offset, so that what a seed shares (initial weights, data order) cancels out. `rerun` also
counts each other backend's run: a reader's re-run may differ in seed, thread count (the
arithmetic's order) and backend, and the backends' runs are the recorded ones whose arithmetic
differs.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from ..backends import MAIN, Variant
from ..build.report import BuildReport, SnippetRun
from ..errors import AuthoringError
from ..numbers import is_number
from ..sources.expectations import (
    NAME,
    Expectation,
    interval_text,
    interval_verdict,
    margin_of,
)
from ..sources.posts import Placeholder
from ..sources.values import formatted, join_range, literal_markdown, points, signed
from ..stats import LEVEL, mean_interval, prediction_interval, wilson_interval
from ..store.records import VariantRecord
from ..store.results import Result


def seed_runs(report: BuildReport, run: SnippetRun, value: str) -> dict[int, float]:
    """Seed offset -> `value` on the main backend: the main run (0) and each recorded seed."""
    return {} if run.result is None else seed_numbers(run.result, report.matrix(run), value)


def seed_numbers(
    main: Result, records: Mapping[Variant, VariantRecord], value: str
) -> dict[int, float]:
    """Seed offset -> `value` in the main result (0) and in each seed variant of `records`."""
    found = run_numbers(main, records, value)
    return {
        variant.seed: number for variant, number in found.items() if variant.backend == MAIN.backend
    }


def run_numbers(
    main: Result, records: Mapping[Variant, VariantRecord], value: str
) -> dict[Variant, float]:
    """Every recorded run's `value`: the main result, each seed and each other backend."""
    found = {MAIN: main.values.get(value)}
    found |= {variant: record.values.get(value) for variant, record in records.items() if record.ok}
    return {variant: number for variant, number in sorted(found.items()) if is_number(number)}


def spread_text(placeholder: Placeholder, report: BuildReport) -> str:
    """The placeholder's filter applied to its runs, formatted and escaped for Markdown."""
    if placeholder.filter == "wilson":
        return literal_markdown(_wilson(placeholder, report))
    runs = (
        _all_runs(placeholder, report)
        if placeholder.filter == "rerun"
        else _runs(placeholder, report)
    )
    if len(runs) < 2:
        names = " and ".join(dict.fromkeys(placeholder.snippets))
        raise AuthoringError(
            f"placeholder {placeholder.text}: no other seeds are recorded for {names}; "
            "run `make verify`",
            placeholder.location,
        )
    return literal_markdown(_FILTERS[placeholder.filter](placeholder, runs))


def _runs(placeholder: Placeholder, report: BuildReport) -> dict[int, float]:
    """The value on each run; for a difference, a - b on each seed both were run with."""
    subject = seed_runs(report, report.snippet_named(placeholder.snippet), placeholder.value)
    if placeholder.minus is None:
        return subject
    snippet, value = placeholder.minus
    other = seed_runs(report, report.snippet_named(snippet), value)
    return {seed: subject[seed] - other[seed] for seed in sorted(set(subject) & set(other))}


def _all_runs(placeholder: Placeholder, report: BuildReport) -> dict[Variant, float]:
    """The value on every recorded run; for a difference, a - b on each run both had."""

    def numbers(snippet: str, value: str) -> dict[Variant, float]:
        run = report.snippet_named(snippet)
        if run is None or run.result is None:
            return {}
        return run_numbers(run.result, report.matrix(run), value)

    subject = numbers(placeholder.snippet, placeholder.value)
    if placeholder.minus is None:
        return subject
    other = numbers(*placeholder.minus)
    return {key: subject[key] - other[key] for key in sorted(set(subject) & set(other))}


def _shown(value: float, placeholder: Placeholder) -> str:
    return (
        formatted(value, placeholder) if placeholder.minus is None else signed(value, placeholder)
    )


def _range(placeholder: Placeholder, runs: dict[int, float]) -> str:
    low, high = min(runs.values()), max(runs.values())
    return join_range(_shown(low, placeholder), _shown(high, placeholder))


def _mean(placeholder: Placeholder, runs: dict[int, float]) -> str:
    return _shown(mean_interval(list(runs.values())).center, placeholder)


def _sd(placeholder: Placeholder, runs: dict[int, float]) -> str:
    return points(formatted(mean_interval(list(runs.values())).sd, placeholder))


def _ci(placeholder: Placeholder, runs: dict[int, float]) -> str:
    """'98.4% ± 0.2 pp (95% CI of the mean, 5 seeds)'; for a difference, its interval."""
    interval = mean_interval(list(runs.values()))
    level = f"{LEVEL:.0%} CI"
    if placeholder.minus is None:
        half = points(formatted(interval.half_width, placeholder))
        center = formatted(interval.center, placeholder)
        return f"{center} ± {half} ({level} of the mean, {interval.n} seeds)"
    low, high = signed(interval.low, placeholder), signed(interval.high, placeholder)
    center = signed(interval.center, placeholder)
    return f"{center} ({level} {low} to {high}, {interval.n} paired seeds)"


def _rerun(placeholder: Placeholder, runs: dict[Variant, float]) -> str:
    """'97.9 to 98.9% (where 95% of re-runs land: 7 runs, 5 seeds and 3 backends)'."""
    interval = prediction_interval(list(runs.values()))
    bounds = join_range(_shown(interval.low, placeholder), _shown(interval.high, placeholder))
    seeds = len({variant.seed for variant in runs})
    backends = len({variant.backend for variant in runs})
    paired = "paired " if placeholder.minus is not None else ""
    what = f"{seeds} seed{'s' * (seeds > 1)} and {backends} backend{'s' * (backends > 1)}"
    return f"{bounds} (where {LEVEL:.0%} of re-runs land: {interval.n} {paired}runs, {what})"


def _wilson(placeholder: Placeholder, report: BuildReport) -> str:
    """'98.7% (95% Wilson interval 98.1 to 99.1%, 2,000 test examples)': one run's accuracy with
    the sampling error of its test set; the snippet publishes n as `<value>_n`, or `n_test`
    for every accuracy measured on its test set."""
    values = report.snippet_named(placeholder.snippet).result.values
    proportion = values[placeholder.value]
    size = values.get(f"{placeholder.value}_n", values.get("n_test"))
    if not (is_number(proportion) and 0 <= proportion <= 1 and isinstance(size, int) and size > 0):
        raise AuthoringError(
            f"placeholder {placeholder.text}: the wilson filter needs a proportion and the "
            f"number of examples it was measured on, published as `{placeholder.value}_n` "
            "(or `n_test`, the test set's size)",
            placeholder.location,
        )
    interval = wilson_interval(proportion, size)
    bounds = join_range(formatted(interval.low, placeholder), formatted(interval.high, placeholder))
    shown = formatted(proportion, placeholder)
    return f"{shown} ({LEVEL:.0%} Wilson interval {bounds}, {size:,} test examples)"


_FILTERS = {"range": _range, "mean": _mean, "sd": _sd, "ci": _ci, "rerun": _rerun}


def claim_margins(claim: Expectation, report: BuildReport) -> list[float]:
    """The claim's margin (subject - operand) on each seed run of the main backend."""
    names = [claim.subject, *([claim.operand] if NAME.match(claim.operand) else [])]
    runs = {name: _named_runs(name, report) for name in names}
    margins = []
    for seed in sorted(set.intersection(*(set(found) for found in runs.values()))):
        values: dict[str, dict[str, float]] = {}
        for name, found in runs.items():
            snippet, value = name.split(".", 1)
            values.setdefault(snippet, {})[value] = found[seed]
        margins.append(margin_of(claim, values))  # as `make check` computes it
    return [margin for margin in margins if margin is not None]


def _named_runs(name: str, report: BuildReport) -> dict[int, float]:
    snippet, value = name.split(".", 1)
    run = report.snippet_named(snippet)
    return {} if run is None else seed_runs(report, run, value)


def claims_html(claims: list[Expectation], report: BuildReport) -> str:
    """Each claim with its margin's 95% interval over the seeds, as `make check` states it."""
    rows = []
    for claim in claims:
        interval, shown = interval_verdict(claim, claim_margins(claim, report))
        if interval is None:  # an exact (==) claim, or one for the snippet's own seed only
            continue
        text = html.escape(interval_text(claim, interval, shown))
        rows.append(f"<li>Claim <code>{html.escape(claim.text)}</code>: {text}</li>")
    return f'<div class="dlexec-matrix"><ul>{"".join(rows)}</ul></div>' if rows else ""
