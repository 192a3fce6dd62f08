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
from dataclasses import asdict
from typing import Any

from ..backends import MAIN_BACKEND, Variant
from ..versions import installed_version
from .keys import KeyInputs


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
