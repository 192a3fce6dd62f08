"""Cache keys: a hash of exactly what changes a snippet's results, and nothing else.

In the key: the snippet's bytes, the engine version, the TensorFlow and Keras versions, and the
bytes of the data files the snippet declares. Not in it: posts, file times, the device, paths.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import ENGINE_VERSION
from .datasets import digest, locate, missing_message
from .errors import DataMissingError, Location
from .snippets import Snippet


@dataclass(frozen=True)
class KeyInputs:
    """The inputs of a cache key, stored beside each result so a reviewer sees why it re-ran."""

    source_sha256: str
    engine: str
    tensorflow: str
    keras: str
    data: dict[str, str]

    @property
    def key(self) -> str:
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@cache
def installed_version(package: str) -> str:
    """Version of an installed distribution, read from its metadata (no import of TensorFlow)."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def key_inputs(
    snippet: Snippet,
    keras_home: Path,
    mirror: Path,
    recorded_data: dict[str, str] | None = None,
) -> KeyInputs:
    """Compute the key inputs of `snippet`.

    A declared data file that is nowhere on this machine keeps the digest recorded in the
    snippet's committed result, so a checkout without the data mirror can still check that
    results are fresh; running the snippet there fails with a DataMissingError instead.
    """
    data = {}
    for name in snippet.header.data:
        path = locate(name, keras_home, mirror)
        if path is not None:
            data[name] = digest(path)
        elif recorded_data and name in recorded_data:
            data[name] = recorded_data[name]
        else:
            raise DataMissingError(
                missing_message(name, keras_home, mirror), Location(snippet.path)
            )
    return KeyInputs(
        source_sha256=hashlib.sha256(snippet.text.encode()).hexdigest(),
        engine=ENGINE_VERSION,
        tensorflow=installed_version("tensorflow"),
        keras=installed_version("keras"),
        data=data,
    )
