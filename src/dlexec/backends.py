"""The Keras backends the engine knows, and a variant of a run: the same snippet on another
backend, or with its seeds offset."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAIN_BACKEND = "tensorflow"  # what the main results and their keys are made with


BACKENDS = ("tensorflow", "jax", "torch")  # KERAS_BACKEND values, each an installable package


BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}


SEED_OFFSET_VARIABLE = "DLEXEC_SEED_OFFSET"


NAME = re.compile(r"^(?P<backend>[a-z]+)(?:\+seed(?P<seed>[1-9]\d*))?$")


@dataclass(frozen=True, order=True)
class Variant:
    """A run of a snippet on `backend`, its seeds offset by `seed` (0: as written)."""

    backend: str
    seed: int = 0

    @property
    def name(self) -> str:
        """`jax`, `torch`, `tensorflow+seed1`: the variant's name in matrix.json."""
        return self.backend if not self.seed else f"{self.backend}+seed{self.seed}"

    @classmethod
    def parse(cls, name: str) -> Variant:
        found = NAME.match(name)
        if found is None or found["backend"] not in BACKENDS:
            raise ValueError(f"not a variant name: {name!r}")
        return cls(found["backend"], int(found["seed"] or 0))

    def env(self) -> dict[str, str]:
        """What the kernel of this variant is started with."""
        return {"KERAS_BACKEND": self.backend, SEED_OFFSET_VARIABLE: str(self.seed)}

    def describe(self) -> str:
        """'JAX', 'TensorFlow, seed +1'."""
        name = BACKEND_NAMES.get(self.backend, self.backend)
        return name if not self.seed else f"{name}, seed +{self.seed}"


MAIN = Variant(MAIN_BACKEND)
