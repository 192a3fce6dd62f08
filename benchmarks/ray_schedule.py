"""Scheduling past this machine, simulated: 100 synthetic snippets with CPU and GPU claims and
long-tailed run times, submitted as Ray tasks the way the Ray executor submits snippets (every
run at once, in the engine's run order, each with `num_cpus`/`num_gpus`), on a local Ray with
logical GPUs. The tasks sleep instead of training, so it shows the packing only: the makespan
against a lower bound on the best possible one, and how busy the GPUs were.

    .venv/bin/python benchmarks/ray_schedule.py        # about a minute: 4 GPUs, 16 CPUs
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass

from dlexec.build.scheduling import run_order_key
from dlexec.sources.needs import Needs

GPUS, CPUS = 4, 16
TIME_SCALE = 0.01  # a simulated second sleeps 10 ms: the whole run takes about a minute


@dataclass(frozen=True)
class Synthetic:
    name: str
    needs: Needs
    seconds: float  # simulated run time


def synthetic_snippets(count: int = 100, seed: int = 6) -> list[Synthetic]:
    """A third claim one GPU (and 2 CPUs), the rest 1 or 2 CPUs; log-normal times, with the
    GPU runs the longer ones, as in a blog whose heavy posts train on GPUs."""
    draw = random.Random(seed)
    snippets = []
    for number in range(count):
        on_gpu = draw.random() < 1 / 3
        needs = Needs(cpus=2, gpus=1) if on_gpu else Needs(cpus=draw.choice((1, 2)), gpus=0)
        seconds = draw.lognormvariate(5.5 if on_gpu else 4.5, 0.9)
        snippets.append(Synthetic(f"s{number:03}", needs, seconds))
    return snippets


def lower_bound(snippets: list[Synthetic]) -> float:
    """No schedule beats the busiest resource's total work spread over all its units, nor the
    longest single run."""
    gpu_work = sum(s.seconds * s.needs.gpus for s in snippets) / GPUS
    cpu_work = sum(s.seconds * s.needs.cpus for s in snippets) / CPUS
    return max(gpu_work, cpu_work, max(s.seconds for s in snippets))


def simulate(ray, snippets: list[Synthetic]) -> float:
    @ray.remote
    def run(seconds: float) -> None:
        time.sleep(seconds * TIME_SCALE)

    ordered = sorted(snippets, key=lambda s: run_order_key(s.needs, s.seconds, s.name))
    started = time.monotonic()
    ray.get(
        [
            run.options(num_cpus=s.needs.cpus, num_gpus=s.needs.gpus).remote(s.seconds)
            for s in ordered
        ]
    )
    return (time.monotonic() - started) / TIME_SCALE


def main() -> int:
    import ray

    snippets = synthetic_snippets()
    ray.init(num_cpus=CPUS, num_gpus=GPUS, include_dashboard=False, log_to_driver=False)
    try:
        makespan = simulate(ray, snippets)
    finally:
        ray.shutdown()
    bound = lower_bound(snippets)
    gpu_seconds = sum(s.seconds * s.needs.gpus for s in snippets)
    on_gpu = sum(1 for s in snippets if s.needs.gpus)
    print(
        f"{len(snippets)} snippets ({on_gpu} on a GPU) on {GPUS} logical GPUs and {CPUS} CPUs: "
        f"makespan {makespan:,.0f} s (simulated), lower bound {bound:,.0f} s "
        f"({makespan / bound:.2f}x); GPUs busy {gpu_seconds / (GPUS * makespan):.0%} of it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
