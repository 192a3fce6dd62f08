"""Runs inside a snippet's kernel (never in the build process).

`install()` runs before the snippet: it records every `model.fit` (the returned History is
published as a display output of the cell that trained, so it lands in that cell's outputs)
and reports on which device the kernel computes. `publish_values()` runs after the snippet and
publishes its top-level scalar variables for placeholders in posts.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import inspect
import math
import os
import platform
import sys
from collections.abc import Callable
from typing import Any

from ..limits import MAX_STRING_VALUE

HISTORY_MIME = "application/vnd.dlexec.history+json"
VALUES_MIME = "application/vnd.dlexec.values+json"
PROVENANCE_MIME = "application/vnd.dlexec.provenance+json"


def _publish(mime: str, data: dict[str, Any]) -> None:
    from IPython.display import display

    display({mime: data}, raw=True)


def install(frameworks: bool = True) -> None:
    """Prepare the kernel: figure format, History capture, provenance.

    `frameworks`: the snippet imports Keras or a backend, so they are imported now, before its
    first cell (a pool starts the next kernel while another snippet runs: the five seconds of
    importing TensorFlow are not the snippet's). A snippet that imports none of them (plain
    Python, NumPy) does not pay for them; if it imports Keras at run time all the same, the
    same preparation happens then."""
    from matplotlib_inline.config import InlineBackend

    # The inline backend draws on a transparent background by default: black text would vanish
    # on the site's dark palette. A white card reads well on both palettes.
    inline = InlineBackend.instance()
    inline.rc = {**inline.rc, "figure.facecolor": "white", "savefig.facecolor": "white"}
    inline.figure_formats = {"retina"}  # applied when the snippet first imports pyplot
    _bound_stream_messages()
    if frameworks:
        _import_tensorflow_without_jax()
        _prepare_keras()
    else:
        _seed_python_and_numpy()
        sys.meta_path.insert(0, _FirstImport("tensorflow", before=_hide_jax))
        sys.meta_path.insert(0, _FirstImport("keras", after=_prepare_keras_late))
    _publish(PROVENANCE_MIME, provenance())


def _prepare_keras() -> None:
    _offset_seeds()
    _deterministic()
    _patch_fit()


_LATE: list[bool] = []  # Keras came in with the snippet: `publish_values` states provenance again


def _prepare_keras_late() -> None:
    _prepare_keras()
    _LATE.append(True)


def _seed_python_and_numpy() -> None:
    """What `keras.utils.set_random_seed(0)` does for a snippet without Keras."""
    import random

    import numpy as np

    random.seed(0)
    np.random.seed(0)


class _FirstImport(importlib.abc.MetaPathFinder):
    """Runs `before` (which returns how to undo itself) and `after` around the first import of
    the module `name`, then steps aside."""

    def __init__(
        self,
        name: str,
        before: Callable[[], Callable[[], None]] = lambda: lambda: None,
        after: Callable[[], None] = lambda: None,
    ) -> None:
        self.name, self.before, self.after = name, before, after

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # the other finders locate it; this one is done
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            undo = self.before()
            try:
                execute(module)
            finally:
                undo()
            self.after()

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _bound_stream_messages(limit: int = 1 << 20) -> None:
    """Flush printed output every `limit` characters. ipykernel sends what a stream buffered
    since its last timed flush as one message; a print loop that starves its I/O thread would
    otherwise send one message of 100 MB, which the build must then hold and decode at once."""
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
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    undo = _hide_jax()
    try:
        import tensorflow  # noqa: F401
    finally:
        undo()


def _hide_jax() -> Callable[[], None]:
    """Make `import jax` fail (unless JAX is already in); returns how to undo it."""
    if "jax" in sys.modules:
        return lambda: None
    sys.modules["jax"] = None  # type: ignore[assignment]  # `import jax` raises ImportError

    def undo() -> None:
        if sys.modules.get("jax", 0) is None:
            del sys.modules["jax"]

    return undo


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
    """Backend, device and library versions as this kernel sees them. A kernel that has not
    imported Keras (a snippet without it) names the versions installed and its CPUs: importing
    TensorFlow to list GPUs would cost the seconds the snippet does not need."""
    loaded = "keras" in sys.modules
    if loaded:
        import keras

        backend, keras_version = keras.config.backend(), keras.__version__
    else:
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")
        keras_version = _installed("keras")
    record = {"backend": backend, "keras": keras_version, "python": platform.python_version()}
    offset = int(os.environ.get("DLEXEC_SEED_OFFSET") or 0)
    if offset:
        record["seed_offset"] = str(offset)
    library, device = _backend_and_device(backend) if loaded else (_installed(backend), None)
    if library:
        record[backend] = library
    # The executor pins a run to its claimed CPUs after this setup; the thread count it set is
    # what the snippet computes with.
    cores = int(os.environ.get("OMP_NUM_THREADS") or len(os.sched_getaffinity(0)))
    record["device"] = device or f"CPU ({cores} core{'s' if cores > 1 else ''})"
    # What a reader's plain `python snippet.py` does not do: its numbers can differ a little
    # (README, "What a reader's re-run gives"), so the page states both.
    record["math_threads"] = str(cores)  # provenance values are text
    deterministic = loaded and backend in ("tensorflow", "torch")
    record["deterministic_ops"] = "on" if deterministic else "off"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    if visible:  # the GPUs the executor gave this run (Ray's logical GPUs included)
        record["gpus"] = visible
    return {key: value for key, value in record.items() if value}


def _backend_and_device(backend: str) -> tuple[str, str | None]:
    """The backend library's version, and the GPU it computes on (None: the CPU)."""
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return tf.__version__, None
        details = tf.config.experimental.get_device_details(gpus[0])
        return tf.__version__, f"GPU {details.get('device_name', gpus[0].name)}"
    if backend == "jax":
        import jax

        gpu = next((d for d in jax.devices() if d.platform == "gpu"), None)
        return jax.__version__, f"GPU {gpu.device_kind}" if gpu else None
    if backend == "torch":
        import torch

        gpu = torch.cuda.is_available()
        return torch.__version__, f"GPU {torch.cuda.get_device_name(0)}" if gpu else None
    return "", None


def _installed(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return ""


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
    if _LATE:  # what setup said (no Keras, no device) no longer holds
        _publish(PROVENANCE_MIME, provenance())


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
