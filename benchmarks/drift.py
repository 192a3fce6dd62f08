"""How far a snippet's numbers move when the CPU kernels change: the measurement behind
`make verify-results`' tolerance (README, "Tolerance").

Each snippet runs as plain Python (op determinism on, same seeds) once as this machine runs it,
then with oneDNN limited to SSE4.1 (as an older CPU would run it), without oneDNN, and on one
thread; the table gives each float value's largest relative change. Usage:

    .venv/bin/python benchmarks/drift.py snippets/mnist_dense.py snippets/reuters_topics.py

`--reader` measures instead what a reader who copies a snippet sees (issue 25): `python
snippet.py` as it is, on every core and without op determinism, twice; then with one switch of
the engine's at a time (one math thread; op determinism), then both, as the engine runs it.
It prints each named value on every run:

    .venv/bin/python benchmarks/drift.py --reader snippets/mnist_dense.py

The snippets' data must be on this machine (KERAS_HOME, default: the shared dataset mirror).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

VARIANTS = {
    "this machine": {},
    "oneDNN SSE4.1": {"DNNL_MAX_CPU_ISA": "SSE41"},
    "no oneDNN": {"TF_ENABLE_ONEDNN_OPTS": "0"},
    "one thread": {"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1"},
}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
READER = {  # name -> (environment, op determinism on)
    "reader": ({}, False),
    "reader again": ({}, False),
    "one thread": (ONE_THREAD, False),
    "determinism": ({"TF_DETERMINISTIC_OPS": "1"}, True),
    "as the engine": ({**ONE_THREAD, "TF_DETERMINISTIC_OPS": "1"}, True),
}
RUN = """
import json, runpy, sys
import tensorflow as tf
if sys.argv[2] == "1":
    tf.config.experimental.enable_op_determinism()
names = runpy.run_path(sys.argv[1], run_name="__main__")
print("VALUES" + json.dumps({k: v for k, v in names.items() if isinstance(v, float)}))
"""
MIRROR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "keras"


def values(snippet: str, variables: dict[str, str], deterministic: bool = True) -> dict[str, float]:
    environment = {"KERAS_HOME": str(MIRROR), "MPLBACKEND": "Agg", **os.environ, **variables}
    done = subprocess.run(
        [sys.executable, "-c", RUN, snippet, "1" if deterministic else "0"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    [line] = [line for line in done.stdout.splitlines() if line.startswith("VALUES")]
    return json.loads(line.removeprefix("VALUES"))


def main(snippets: list[str]) -> None:
    print(f"{'snippet':<28} {'variant':<15} largest relative change (value)")
    for snippet in snippets:
        runs = {name: values(snippet, variables) for name, variables in VARIANTS.items()}
        base = runs["this machine"]
        for name, found in runs.items():
            changes = {k: abs(v - base[k]) / abs(base[k]) for k, v in found.items() if base[k]}
            worst = max(changes, key=changes.__getitem__, default=None)
            shown = f"{changes[worst]:.2e} ({worst})" if worst else "-"
            print(f"{Path(snippet).stem:<28} {name:<15} {shown}")


def reader(snippets: list[str]) -> None:
    """Each float value of each snippet under each READER setting, side by side."""
    for snippet in snippets:
        runs = {
            name: values(snippet, variables, deterministic)
            for name, (variables, deterministic) in READER.items()
        }
        names = sorted(k for k in runs["reader"] if "accuracy" in k or "loss" in k or "mae" in k)
        print(f"{Path(snippet).stem} ({os.cpu_count()} CPUs)")
        print(f"  {'value':<28}" + "".join(f"{name:>15}" for name in runs))
        for value in names:
            print(f"  {value:<28}" + "".join(f"{runs[n].get(value, 0):>15.6g}" for n in runs))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--reader"]:
        reader(sys.argv[2:])
    else:
        main(sys.argv[1:])
