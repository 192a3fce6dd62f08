"""What a snippet's header says one run needs (`resources:`, `serial:`): parsed and checked at
its line. The scheduler (`run/resources`) hands out what they ask for.
(`expect:` claims in posts are another thing: `sources/expectations`.)"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import AuthoringError, Location

GiB = 1 << 30


DEFAULT_CPUS = 1


DEFAULT_MEMORY = 4 * GiB  # launch snippets peak under 1 GiB on a CPU; CUDA libraries add GiBs


RESOURCE_KEYS = ("cpus", "gpus", "memory")


SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?", re.IGNORECASE)


UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
UNITS |= {"ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30, "ti": 1 << 40}


@dataclass(frozen=True)
class Needs:
    """What one run of a snippet needs. `gpus=None` (the default) means one GPU when the
    machine has any, else none; `serial` runs it alone."""

    cpus: int = DEFAULT_CPUS
    gpus: int | None = None
    memory: int = DEFAULT_MEMORY
    serial: bool = False

    def gpus_on(self, available: int) -> int:
        """How many GPUs these needs take on a machine (or cluster) with `available` of them:
        a snippet wanting a GPU still runs, on the CPU, where there is none."""
        wanted = 1 if self.gpus is None else self.gpus
        return min(wanted, available)


def parse_needs(
    resources: object, serial: object, where: Location, serial_where: Location
) -> Needs:
    """The header's `resources:` mapping and `serial:` flag, checked at their lines."""
    if not isinstance(serial, bool):
        raise AuthoringError(
            f"snippet header 'serial' is {serial!r}; use true or false", serial_where
        )
    if resources is None:
        return Needs(serial=serial)
    if not isinstance(resources, dict):
        raise AuthoringError(
            "snippet header 'resources' must be a mapping, e.g. {cpus: 2, gpus: 1, memory: 4GiB}",
            where,
        )
    unknown = [key for key in resources if key not in RESOURCE_KEYS]
    if unknown:
        raise AuthoringError(
            f"unknown key {unknown[0]!r} in 'resources'; allowed: {', '.join(RESOURCE_KEYS)}",
            where,
        )
    cpus = _whole(resources.get("cpus", DEFAULT_CPUS), "cpus", 1, 1024, where)
    gpus = resources.get("gpus")
    if gpus is not None:
        gpus = _whole(gpus, "gpus", 0, 64, where)
    memory = parse_size(resources.get("memory", DEFAULT_MEMORY), where)
    return Needs(cpus=cpus, gpus=gpus, memory=memory, serial=serial)


def parse_size(value: object, where: Location) -> int:
    """Bytes from `4GiB`, `512MiB`, `2GB`, `2G` or a plain number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match:
        unit = (match.group(2) or "").lower().removesuffix("b")
        size = int(float(match.group(1)) * UNITS[unit])
        if size >= 1 << 20:
            return size
    raise AuthoringError(
        f"'resources: memory' is {value!r}; write a size of at least 1MiB such as 4GiB or 512MiB",
        where,
    )


def _whole(value: object, name: str, low: int, high: int, where: Location) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    raise AuthoringError(
        f"'resources: {name}' is {value!r}; it must be a whole number from {low} to {high}", where
    )
