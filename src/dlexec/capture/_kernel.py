"""Runs inside a snippet's kernel (never in the build process).

`install()` runs before the snippet: it records every `model.fit` (the returned History is
published as a display output of the cell that trained, so it lands in that cell's outputs)
and reports on which device the kernel computes. `publish_values()` runs after the snippet and
publishes its top-level scalar variables for placeholders in posts.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import platform
from typing import Any

from ..limits import MAX_STRING_VALUE

HISTORY_MIME = "application/vnd.dlexec.history+json"
VALUES_MIME = "application/vnd.dlexec.values+json"
PROVENANCE_MIME = "application/vnd.dlexec.provenance+json"


def _publish(mime: str, data: dict[str, Any]) -> None:
    from IPython.display import display

    display({mime: data}, raw=True)


def install() -> None:
    """Prepare the kernel: figure format, History capture, provenance."""
    from matplotlib_inline.config import InlineBackend

    # The inline backend draws on a transparent background by default: black text would vanish
    # on the site's dark palette. A white card reads well on both palettes.
    inline = InlineBackend.instance()
    inline.rc = {**inline.rc, "figure.facecolor": "white", "savefig.facecolor": "white"}
    inline.figure_formats = {"retina"}  # applied when the snippet first imports pyplot
    _import_tensorflow_without_jax()
    _offset_seeds()
    _deterministic()
    _bound_stream_messages()
    _patch_fit()
    _publish(PROVENANCE_MIME, provenance())


def _bound_stream_messages(limit: int = 1 << 20) -> None:
    """Flush printed output every `limit` characters. ipykernel sends what a stream buffered
    since its last timed flush as one message; a print loop that starves its I/O thread would
    otherwise send one message of 100 MB, which the build must then hold and decode at once."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        write = stream.write
        written = [0]

        def bounded(text: str, write: Any = write, stream: Any = stream, written=written) -> Any:
            count = write(text)
            written[0] += len(text)
            if written[0] >= limit:
                written[0] = 0
                stream.flush()  # waits until the I/O thread has sent it
            return count

        stream.write = bounded


def _import_tensorflow_without_jax() -> None:
    """TensorFlow's TFLite converter imports JAX when it is installed (it is, for `make verify`):
    1.2 s of every TensorFlow kernel's start, for a converter no snippet uses here. A TensorFlow
    kernel imports TensorFlow with JAX hidden; a snippet that imports JAX itself still can."""
    import sys

    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow" or "jax" in sys.modules:
        return
    sys.modules["jax"] = None  # type: ignore[assignment]  # `import jax` raises ImportError
    try:
        import tensorflow  # noqa: F401
    finally:
        if sys.modules.get("jax", 0) is None:
            del sys.modules["jax"]


def _offset_seeds() -> None:
    """A seed variant (`make verify`) adds DLEXEC_SEED_OFFSET to every seed the snippet passes
    to `keras.utils.set_random_seed`: the same code, other random draws."""
    offset = int(os.environ.get("DLEXEC_SEED_OFFSET") or 0)
    if not offset:
        return
    import keras

    original = keras.utils.set_random_seed

    @functools.wraps(original)
    def set_random_seed(seed: int) -> None:
        original(seed + offset)

    keras.utils.set_random_seed = set_random_seed


def _deterministic() -> None:
    """Turn on each backend's deterministic-ops switch, so a seeded snippet re-run on the same
    machine gives the same bytes. A default seed comes first (TensorFlow refuses unseeded
    random ops under determinism); a snippet's own `keras.utils.set_random_seed` replaces it."""
    import keras

    keras.utils.set_random_seed(0)
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)


def _patch_fit() -> None:
    import keras

    original = keras.Model.fit
    if getattr(original, "_dlexec_wrapped", False):
        return

    @functools.wraps(original)
    def fit(self: keras.Model, *args: Any, **kwargs: Any) -> Any:
        history = original(self, *args, **kwargs)
        _publish(HISTORY_MIME, _history_record(self, history, _callbacks(original, args, kwargs)))
        return history

    fit._dlexec_wrapped = True  # type: ignore[attr-defined]
    keras.Model.fit = fit


def _history_record(model: Any, history: Any, callbacks: Any) -> dict[str, Any]:
    metrics = {
        name: [_finite(value) for value in values] for name, values in history.history.items()
    }
    record = {
        "model": model.name,
        "epochs": [int(e) + 1 for e in history.epoch],
        "metrics": metrics,
    }
    restored = _restored_epoch(callbacks)
    if restored is not None:
        record["restored_epoch"] = restored
    return record


def _callbacks(fit: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The callbacks a `fit` call was given, positionally or by name."""
    try:
        return inspect.signature(fit).bind(None, *args, **kwargs).arguments.get("callbacks") or ()
    except TypeError:  # a signature this Keras does not have: record no restore
        return ()


def _restored_epoch(callbacks: Any) -> int | None:
    """The epoch (from 1) whose weights an EarlyStopping callback restored when training ended:
    it does so whenever `restore_best_weights` is on and it saw a best epoch."""
    for callback in callbacks:
        restores = getattr(callback, "restore_best_weights", False) is True
        if restores and getattr(callback, "best_weights", None) is not None:
            return int(callback.best_epoch) + 1
    return None


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def provenance() -> dict[str, str]:
    """Backend, device and library versions as this kernel sees them."""
    import keras

    backend = keras.config.backend()
    record = {"backend": backend, "keras": keras.__version__, "python": platform.python_version()}
    offset = int(os.environ.get("DLEXEC_SEED_OFFSET") or 0)
    if offset:
        record["seed_offset"] = str(offset)
    device = None
    if backend == "tensorflow":
        import tensorflow as tf

        record["tensorflow"] = tf.__version__
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            device = f"GPU {details.get('device_name', gpus[0].name)}"
    elif backend == "jax":
        import jax

        record["jax"] = jax.__version__
        gpu = next((d for d in jax.devices() if d.platform == "gpu"), None)
        device = f"GPU {gpu.device_kind}" if gpu else None
    elif backend == "torch":
        import torch

        record["torch"] = torch.__version__
        device = f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else None
    # The executor pins a run to its claimed CPUs after this setup; the thread count it set is
    # what the snippet computes with.
    cores = int(os.environ.get("OMP_NUM_THREADS") or len(os.sched_getaffinity(0)))
    record["device"] = device or f"CPU ({cores} core{'s' if cores > 1 else ''})"
    # What a reader's plain `python snippet.py` does not do: its numbers can differ a little
    # (README, "What a reader's re-run gives"), so the page states both.
    record["math_threads"] = str(cores)  # provenance values are text
    record["deterministic_ops"] = "on" if backend in ("tensorflow", "torch") else "off"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    if visible:  # the GPUs the executor gave this run (Ray's logical GPUs included)
        record["gpus"] = visible
    return record


def publish_values(namespace: dict[str, Any]) -> None:
    """Publish the snippet's public top-level numbers, booleans and short strings."""
    values = {}
    for name, value in namespace.items():
        if name.startswith("_") or callable(value):
            continue
        plain = _plain(value)
        if plain is not None:
            values[name] = plain
    _publish(VALUES_MIME, values)


def _plain(value: Any) -> bool | int | float | str | None:
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()  # NumPy scalars and 0-d arrays/tensors
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and len(value) <= MAX_STRING_VALUE:
        return value
    return None
