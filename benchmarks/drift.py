"""How far a snippet's numbers move when the CPU kernels change: the measurement behind
`make verify-results`' tolerance (README, "Tolerance").

Each snippet runs as plain Python (op determinism on, same seeds) once as this machine runs it,
then with oneDNN limited to SSE4.1 (as an older CPU would run it), without oneDNN, and on one
thread; the table gives each float value's largest relative change. Usage:

    .venv/bin/python benchmarks/drift.py snippets/mnist_dense.py snippets/reuters_topics.py

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
RUN = """
import json, runpy, sys
import tensorflow as tf
tf.config.experimental.enable_op_determinism()
names = runpy.run_path(sys.argv[1], run_name="__main__")
print("VALUES" + json.dumps({k: v for k, v in names.items() if isinstance(v, float)}))
"""
MIRROR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "keras"


def values(snippet: str, variables: dict[str, str]) -> dict[str, float]:
    environment = {"KERAS_HOME": str(MIRROR), "MPLBACKEND": "Agg", **os.environ, **variables}
    done = subprocess.run(
        [sys.executable, "-c", RUN, snippet],
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


if __name__ == "__main__":
    main(sys.argv[1:])
