"""How well `prepare --shard I/N` balances its shares: the makespan (the slowest shard's summed
snippet time) of the split by recorded time and of the split by position, against the ideal
(every second shared equally, sum / N), for this blog's committed results and for 100
synthetic snippets with long-tailed run times. Nothing runs; it reads `results/*/result.json`.

    .venv/bin/python benchmarks/shards.py [N ...]      # default: 2 and 4 shards
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from dlexec.build.shards import makespan, split

ROOT = Path(__file__).resolve().parent.parent


def blog_seconds() -> dict[Path, float]:
    """Each snippet's wall time as its committed result records it."""
    seconds = {}
    for result in sorted((ROOT / "results").glob("*/result.json")):
        wall = json.loads(result.read_text())["provenance"].get("wall_time_s")
        if isinstance(wall, int | float):
            seconds[Path("snippets") / f"{result.parent.name}.py"] = float(wall)
    return seconds


def synthetic_seconds(count: int = 100, seed: int = 27) -> dict[Path, float]:
    """Log-normal run times (median 33 s, a tail of many minutes), as GPU-heavy blogs have."""
    draw = random.Random(seed)
    return {Path(f"snippets/s{n:03}.py"): draw.lognormvariate(3.5, 1.2) for n in range(count)}


def report(name: str, seconds: dict[Path, float], shards: int) -> str:
    ideal = sum(seconds.values()) / shards
    by_time = makespan(split(seconds, shards, seconds), seconds)
    by_position = makespan(split(seconds, shards, {}), seconds)
    return (
        f"{name:<28} {shards:>2} shards  ideal {ideal:8.1f} s  "
        f"by time {by_time:8.1f} s ({by_time / ideal:.2f}x)  "
        f"by position {by_position:8.1f} s ({by_position / ideal:.2f}x)  "
        f"longest snippet {max(seconds.values()):.1f} s"
    )


def main(counts: list[int]) -> None:
    blog, synthetic = blog_seconds(), synthetic_seconds()
    for shards in counts:
        print(report(f"this blog ({len(blog)} snippets)", blog, shards))
        print(report(f"synthetic ({len(synthetic)} snippets)", synthetic, shards))


if __name__ == "__main__":
    main([int(argument) for argument in sys.argv[1:]] or [2, 4])
