"""`make test-bench`: the test suite's tiers timed side by side in one run.

For each tier (`--tier fast`, what `make test` runs; `--tier all`, what CI runs) it prints the
wall time, the seconds pytest reports, the CPU time of pytest and everything it started
(workers, kernels, browsers, builds) and that time as a share of the machine's cores, and the
15 slowest test phases. A regression in the suite's speed shows here, not in a timed test.

BENCH_TIERS=fast,all picks the tiers (default both); BENCH_WORKERS sets pytest-xdist's `-n`
(default auto, as the Makefile); BENCH_SERIAL=1 also runs each tier in one process (`-n 0`) for
a side-by-side speed-up.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SLOWEST = 15
SUMMARY = re.compile(r"^(?:=+ )?(\d+ (?:passed|failed|errors?)[^\n]*?) in ([\d.]+)s", re.M)
DURATION = re.compile(r"^\s*([\d.]+)s (setup|call|teardown)\s+(\S+)", re.M)


@dataclass(frozen=True)
class TierRun:
    tier: str
    workers: str
    wall: float  # seconds, the whole pytest process
    cpu: float  # user + system seconds of pytest and every process it waited for
    reported: float  # the seconds pytest's summary line gives
    outcome: str  # "532 passed", "1 failed, 531 passed", ...
    slowest: list[tuple[float, str, str]]  # (seconds, phase, test)
    returncode: int

    def cpu_share(self, cores: int) -> float:
        return self.cpu / (self.wall * cores)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_tier(tier: str, workers: str) -> TierRun:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tier", tier]
    command += ["-n", workers, "--dist", "loadscope", f"--durations={SLOWEST}"]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cpu_before, started = cpu_seconds(), time.monotonic()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall, cpu = time.monotonic() - started, cpu_seconds() - cpu_before
    summary = SUMMARY.search(done.stdout)
    slowest = [
        (float(seconds), phase, test) for seconds, phase, test in DURATION.findall(done.stdout)
    ]
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-5000:] + done.stderr[-2000:])
    return TierRun(
        tier,
        workers,
        wall,
        cpu,
        float(summary[2]) if summary else float("nan"),
        summary[1] if summary else "no summary line",
        slowest[:SLOWEST],
        done.returncode,
    )


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        model = found[1] if found else model
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} CPUs, {memory:.1f} GiB, Python {platform.python_version()}; "
        f"load average before: {load}"
    )


def report(run: TierRun, cores: int) -> list[str]:
    lines = [
        f"tier {run.tier} (-n {run.workers}): {run.outcome}; wall {run.wall:.1f} s "
        f"(pytest: {run.reported:.1f} s); CPU {run.cpu:.1f} s = "
        f"{run.cpu_share(cores):.0%} of {cores} cores",
        f"  {len(run.slowest)} slowest phases:",
    ]
    lines += [f"  {seconds:7.2f} s {phase:8} {test}" for seconds, phase, test in run.slowest]
    return lines


def main() -> int:
    tiers = os.environ.get("BENCH_TIERS", "fast,all").split(",")
    workers = os.environ.get("BENCH_WORKERS", "auto")
    serial = os.environ.get("BENCH_SERIAL", "") == "1"
    cores = os.cpu_count() or 1
    print(f"machine: {machine()}", flush=True)
    runs: list[TierRun] = []
    for tier in tiers:
        for chosen in (workers, "0") if serial else (workers,):
            run = run_tier(tier, chosen)
            runs.append(run)
            print("\n".join(report(run, cores)), flush=True)
    print("\nsummary:")
    for run in runs:
        print(
            f"  {run.tier:4} -n {run.workers:4}: wall {run.wall:6.1f} s, pytest "
            f"{run.reported:6.1f} s, CPU {run.cpu_share(cores):4.0%}, {run.outcome}"
        )
    if serial:
        for tier in tiers:
            parallel, alone = (r for r in runs if r.tier == tier)
            print(
                f"  {tier}: speed-up of -n {workers} over one process: "
                f"{alone.wall / parallel.wall:.2f}x"
            )
    return 1 if any(run.returncode != 0 for run in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
