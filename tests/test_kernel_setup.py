"""The kernel's setup imports Keras and its backend before a snippet that uses them, and not
before one that does not: five seconds of TensorFlow are not every kernel's price. A snippet
that imports Keras at run time is prepared then (its `fit` recorded, seeds set)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import engine_project, prepare_into

from dlexec.run.kernel import imports_frameworks
from dlexec.sources.snippets import load_snippet

WITHOUT_KERAS = """\
# %% numbers
import sys

import numpy as np

frameworks_loaded = any(name in sys.modules for name in ("keras", "tensorflow", "jax", "torch"))
first_draw = float(np.random.rand())
"""
KERAS_AT_RUN_TIME = """\
# %% late
import importlib

import numpy as np

keras = importlib.import_module("keras")
model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)], name="late")
model.compile(optimizer="sgd", loss="mse")
model.fit(np.zeros((8, 1)), np.zeros((8, 1)), epochs=2, verbose=0)
seed_draw = float(keras.random.uniform(()))
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("# %% a\nimport numpy as np\nx = 1\n", False),
        ("# %% a\nimport keras\n", True),
        ("# %% a\nx = 1\n# %% b\nfrom tensorflow import keras\n", True),
        ("# %% a\ndef f():\n    import torch.nn as nn\n", True),
        ("# %% a\nimport jax.numpy as jnp\n", True),
        ("# %% a\nimport kerasish\nfrom .keras import x\n", False),
        ("# %% a\nprint(\n", True),  # cannot tell: as before, prepared up front
    ],
)
def test_which_snippets_get_keras_before_their_first_cell(
    tmp_path: Path, source: str, expected: bool
):
    path = tmp_path / "s.py"
    path.write_text(source)
    assert imports_frameworks(load_snippet(path)) is expected


@pytest.mark.kernel
def test_a_snippet_without_keras_starts_without_it_and_one_importing_it_late_is_prepared(
    tmp_path: Path,
):
    config = engine_project(tmp_path, {"plain": WITHOUT_KERAS, "late": KERAS_AT_RUN_TIME})
    report, _ = prepare_into(config, {"BLOG_JOBS": "1"}, "results")
    assert not report.errors, report.error_texts()
    plain = report.snippet_named("plain").result
    assert plain.values["frameworks_loaded"] is False
    assert plain.values["first_draw"] == 0.5488135039273248  # NumPy seeded with 0, as Keras seeds
    assert plain.provenance["keras"] and plain.provenance["device"].startswith("CPU (")
    late = report.snippet_named("late").result
    assert [history.model for history in late.histories()] == ["late"]  # its fit was recorded
    # Provenance stated again once Keras came in: its backend's version, determinism on.
    assert late.provenance["tensorflow"] and late.provenance["deterministic_ops"] == "on"
    again, _ = prepare_into(config, {"BLOG_JOBS": "1"}, "again")
    assert again.snippet_named("late").result.values == late.values  # seeded: the same draw
