"""Variants of a snippet's run: the same code on another Keras backend, or with another seed.

The main result (`result.json`) is the snippet run on TensorFlow with the seed it sets. A
variant changes one thing: `KERAS_BACKEND`, or an offset the kernel adds to every seed the
snippet passes to `keras.utils.set_random_seed` (`_kernel._offset_seeds`). Its key is the main
key's inputs plus the backend, the backend's installed version and the offset, so a variant
runs again exactly when its main result would, or when its backend is upgraded.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from .backends import BACKEND_NAMES, BACKENDS, MAIN_BACKEND
from .cache_key import KeyInputs
from .versions import installed_version

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

    @property
    def is_main(self) -> bool:
        return self == MAIN

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


def variant_inputs(inputs: KeyInputs, variant: Variant) -> dict[str, Any]:
    """The main key's inputs plus what the variant changes (stored, for reviewers)."""
    return {
        **asdict(inputs),
        "backend": variant.backend,
        "backend_version": installed_version(variant.backend),
        "seed_offset": variant.seed,
    }


def variant_key(inputs: dict[str, Any]) -> str:
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def wanted_variants(backends: tuple[str, ...], seeds: int, backs_claim: bool) -> list[Variant]:
    """The variants a snippet needs: every other backend with the snippet's own seed, and
    `seeds` further seeds on the main backend when a claim rests on it."""
    variants = [Variant(backend) for backend in backends if backend != MAIN_BACKEND]
    if backs_claim:
        variants += [Variant(MAIN_BACKEND, offset) for offset in range(1, seeds + 1)]
    return variants
