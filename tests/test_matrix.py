"""`python -m dlexec verify`: snippets run on other Keras backends and with further seeds, each
run stored beside the main result; a snippet that breaks on one backend only fails the check.

The JAX leg runs here (its CPU wheel is in the dev dependencies); PyTorch's runs in `make
verify` and its workflow (its registry wheels pull several GB of CUDA libraries)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlexec.backends import Variant
from dlexec.store.records import load_matrix

pytest.importorskip(
    "jax", reason="the JAX leg needs the dev dependencies (make test installs them)"
)
pytestmark = pytest.mark.kernel


# Runs anywhere Keras does.
PORTABLE = """\
import keras
import numpy as np

keras.utils.set_random_seed(3)
first_draw = float(np.random.rand())
keras.utils.set_random_seed(4)
second_draw = float(np.random.rand())
x = np.random.rand(64, 4).astype("float32")
y = x.sum(axis=1, keepdims=True)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)], name="line")
model.compile(optimizer="sgd", loss="mse")
model.fit(x, y, epochs=2, verbose=0)
loss = float(model.evaluate(x, y, verbose=0))
print("backend:", keras.config.backend())
"""
# A TensorFlow op inside a Keras layer: fine on TensorFlow, a tracing error on JAX.
TF_ONLY = """\
import keras
import numpy as np
import tensorflow as tf

keras.utils.set_random_seed(1)
x = np.random.rand(32, 4).astype("float32")
model = keras.Sequential(
    [keras.Input((4,)), keras.layers.Lambda(lambda t: tf.math.square(t)), keras.layers.Dense(1)]
)
model.compile(optimizer="sgd", loss="mse")
model.fit(x, x[:, :1], epochs=1, verbose=0)
squared_loss = float(model.evaluate(x, x[:, :1], verbose=0))
"""
POST = """\
---
date: 2026-01-01
expect:
  portable.loss: ">= 0"
  portable.second_draw: "> 0"
---
# Two snippets

[portable](../snippets/portable.py)

[tf only](../snippets/tf_only.py)
"""


def project(root: Path) -> Path:
    for folder in ("snippets", "posts"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[tool.dlexec]\ntimeout = 120\nseeds = 1\n")
    (root / "snippets" / "portable.py").write_text(PORTABLE)
    (root / "snippets" / "tf_only.py").write_text(TF_ONLY)
    (root / "posts" / "p.md").write_text(POST)
    return root


def dlexec(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BLOG_JOBS": "2"}
    return subprocess.run(
        [sys.executable, "-m", "dlexec", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def verified(tmp_path_factory: pytest.TempPathFactory):
    """The two-snippet project after its first `verify` on TensorFlow and JAX (run once: the
    forged-record test starts from a copy of it)."""
    root = project(tmp_path_factory.mktemp("matrix"))
    return root, dlexec(root, "verify", "--backends", "tensorflow,jax")


def test_a_snippet_that_breaks_on_one_backend_fails_and_the_rest_is_recorded(verified):
    root, first = verified
    assert first.returncode == 1, first.stderr
    output = first.stdout + first.stderr
    assert "snippets: 2 executed, 0 reused, 0 failed" in output
    # portable: on JAX and with one more seed; tf_only: on JAX only (no claim rests on it)
    assert "variants: 2 executed, 0 reused, 1 failed" in output
    assert "error: snippets/tf_only.py on JAX failed:" in first.stderr

    portable = load_matrix(root / "results" / "portable")
    main = json.loads((root / "results" / "portable" / "result.json").read_text())["values"]
    jax, seeded = portable[Variant("jax")], portable[Variant("tensorflow", 1)]
    assert jax.ok and jax.provenance["backend"] == "jax" and "jax" in jax.provenance
    assert jax.values["first_draw"] == main["first_draw"]  # NumPy draws: the same seed
    assert jax.histories[0]["model"] == "line" and jax.histories[0]["epochs"] == [1, 2]
    # The seed variant adds 1 to every seed the snippet sets: its seed 3 draws what seed 4 did.
    assert seeded.values["first_draw"] == main["second_draw"] != main["first_draw"]
    assert seeded.provenance["seed_offset"] == "1"
    # A backend's record keeps its outputs for the page's tabs, their files beside the main
    # result's; a further seed keeps values and histories only.
    shown = [output.type for cell in jax.cells for output in cell.outputs]
    assert "history" in shown and jax.files
    assert all((root / "results" / "portable" / name).is_file() for name in jax.files)
    assert not seeded.cells and not seeded.files
    [broken] = load_matrix(root / "results" / "tf_only").values()
    assert broken.variant == Variant("jax") and not broken.ok and broken.values == {}
    assert "error" in [output.type for cell in broken.cells for output in cell.outputs]

    again = dlexec(root, "verify", "--backends", "tensorflow,jax")  # nothing changed
    output = again.stdout + again.stderr
    assert "snippets: 0 executed, 2 reused, 0 failed" in output
    assert "variants: 0 executed, 2 reused, 1 failed" in output  # the failure stays recorded
    assert "error: snippets/tf_only.py on JAX failed:" in again.stderr
    assert again.returncode == 1

    check = dlexec(root, "check")  # pyproject asks for torch too: not recorded, so it fails
    assert check.returncode == 1
    assert "portable.loss >= 0" in check.stdout + check.stderr
    assert "PyTorch (not recorded)" in check.stderr


# The limit counts the snippet's own time, not the kernel's start (which imports Keras and its
# backend): 1 s is plenty on TensorFlow, and a variant gets 3 x 1 s.
SLOW_ON_JAX = """\
# ---
# timeout: 1
# ---
import time

import keras

if keras.config.backend() == "jax":
    time.sleep(60)  # under test: a run its time limit stops (the variant's: 3 x 1 s)
answer = 42
"""


def test_a_variant_stopped_by_its_time_limit_is_reported_not_recorded(tmp_path: Path):
    """A time limit says as much about the machine as about the code: the next run retries."""
    root = tmp_path
    for folder in ("snippets", "posts"):
        (root / folder).mkdir()
    (root / "pyproject.toml").write_text("[tool.dlexec]\ntimeout = 120\nseeds = 0\n")
    (root / "snippets" / "slow.py").write_text(SLOW_ON_JAX)
    (root / "posts" / "p.md").write_text(
        "---\ndate: 2026-01-01\n---\n# P\n\n[s](../snippets/slow.py)\n"
    )
    done = dlexec(root, "verify", "--backends", "tensorflow,jax")
    assert done.returncode == 1
    assert "error: snippets/slow.py on JAX failed:" in done.stderr
    assert "variants: 0 executed, 0 reused, 1 failed" in done.stdout
    assert load_matrix(root / "results" / "slow") == {}  # nothing recorded: it runs again


def test_a_tensorflow_kernel_starts_without_importing_jax(tmp_path: Path):
    """TensorFlow imports JAX for its TFLite converter when JAX is installed (1.2 s per
    kernel); the kernel hides it while TensorFlow loads, and a snippet can still import it."""
    from conftest import engine_project, prepare_into

    code = (
        "import sys\nimport keras\n"
        "jax_loaded_with_keras = 'jax' in sys.modules\n"
        "import jax\njax_version = jax.__version__\n"
    )
    config = engine_project(tmp_path, {"probe": code})
    report, _ = prepare_into(config, {"BLOG_JOBS": "1"}, "results")
    [run] = report.runs.values()
    assert report.errors == [], report.error_texts()
    assert run.result.values["jax_loaded_with_keras"] is False
    assert run.result.values["jax_version"]


def test_a_forged_matrix_record_with_a_valid_key_fails_the_recheck(verified, tmp_path: Path):
    """A record is fresh when its key fits, so a pull request could change a value and keep
    the key; `verify --recheck REF` re-runs every record changed since REF and compares. Here
    the JAX record's loss is forged, the seed record only re-dated (an honest re-run)."""
    from conftest import git

    root = tmp_path / "project"  # the verified project, without its TensorFlow-only snippet
    shutil.copytree(verified[0], root, ignore=shutil.ignore_patterns(".cache"))
    (root / "posts" / "p.md").write_text(POST.replace("[tf only](../snippets/tf_only.py)", ""))
    (root / "snippets" / "tf_only.py").unlink()
    shutil.rmtree(root / "results" / "tf_only")
    first = dlexec(root, "verify", "--backends", "tensorflow,jax")
    assert first.returncode == 0, first.stderr
    assert "variants: 0 executed, 2 reused, 0 failed" in first.stdout + first.stderr
    (root / ".gitignore").write_text(".cache/\n")  # as the blog's: caches are never committed
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "honest results")

    path = root / "results" / "portable" / "matrix.json"
    document = json.loads(path.read_text())
    document["variants"]["jax"]["values"]["loss"] *= 1.08
    document["variants"]["tensorflow+seed1"]["provenance"]["date"] = "2026-12-24 09:00 UTC"
    path.write_text(json.dumps(document, indent=1))
    git(root, "commit", "-q", "-am", "a better loss on JAX")
    changed = path.read_text()

    checked = dlexec(root, "verify", "--backends", "tensorflow,jax", "--recheck", "HEAD~1")
    assert checked.returncode == 1
    assert "variants: 2 executed, 0 reused, 0 failed" in checked.stdout + checked.stderr
    assert "results/portable/matrix.json jax: committed vs re-run: value loss" in checked.stderr
    assert "tensorflow+seed1: committed vs re-run" not in checked.stderr
    records = json.loads(path.read_text())["variants"]
    assert records["tensorflow+seed1"] == json.loads(changed)["variants"]["tensorflow+seed1"]
    assert records["jax"]["values"]["loss"] != document["variants"]["jax"]["values"]["loss"]
