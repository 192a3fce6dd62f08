"""Cache keys: a hash of exactly what changes a snippet's results, and nothing else.

In the key: the snippet's bytes, the engine version, the TensorFlow and Keras versions, and the
bytes of the data files the snippet declares. Not in it: posts, file times, the device, paths.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import ENGINE_VERSION
from ..errors import DataMissingError, Location
from ..sources.datasets import DataTooLarge, digest, locate, missing_message
from ..sources.snippets import Snippet
from ..versions import installed_version

if TYPE_CHECKING:
    from ..sources.snippets import DataFile


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


def _data_digest(
    entry: DataFile, snippet: Snippet, keras_home: Path, mirror: Path, recorded: dict[str, str]
) -> str:
    if entry.sha256:
        return entry.sha256
    where = Location(snippet.path, entry.line)
    path = locate(entry.name, keras_home, mirror)
    if path is not None:
        try:
            return digest(path)
        except DataTooLarge as error:
            raise DataMissingError(str(error), where) from None
    if entry.name in recorded:
        return recorded[entry.name]
    raise DataMissingError(missing_message(entry.name, keras_home, mirror), where)


def key_inputs(
    snippet: Snippet,
    keras_home: Path,
    mirror: Path,
    recorded_data: dict[str, str] | None = None,
) -> KeyInputs:
    """Compute the key inputs of `snippet`.

    A file declared with its SHA-256 is keyed by that hash (the engine verifies the file against
    it before a run). Otherwise the file's bytes are hashed; one that is nowhere on this machine
    keeps the digest recorded in the committed result, so a checkout without the data mirror
    can still check that results are fresh (running the snippet there fails instead).
    """
    data = {}
    for entry in snippet.header.data:
        data[entry.name] = _data_digest(entry, snippet, keras_home, mirror, recorded_data or {})
    return KeyInputs(
        source_sha256=hashlib.sha256(snippet.text.encode()).hexdigest(),
        engine=ENGINE_VERSION,
        tensorflow=installed_version("tensorflow"),
        keras=installed_version("keras"),
        data=data,
    )
