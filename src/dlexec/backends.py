"""The Keras backends the engine knows: the main one (results and keys) and the others."""

from __future__ import annotations

MAIN_BACKEND = "tensorflow"  # what the main results and their keys are made with


BACKENDS = ("tensorflow", "jax", "torch")  # KERAS_BACKEND values, each an installable package


BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
