"""Ctrl-C or SIGTERM in the middle of a run: no half-written result, no kernel left behind,
and the next build is correct."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import kernel_pids


def prepare(project: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dlexec", "--root", str(project), "prepare"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def processes_with(marker: str) -> list[int]:
    """PIDs of processes whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def running(pid: int) -> bool:
    """Is `pid` a live process (not a zombie waiting to be reaped)?"""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.2)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_run_leaves_nothing_half_done(site_project: Path, signum: int):
    snippet = site_project / "snippets" / "tiny.py"
    original = snippet.read_text()
    # The sandboxed snippet cannot write a marker file for the test: a process whose command
    # line carries a marker tells that training has started.
    marker = f"dlexec-training-started-{signum}"
    snippet.write_text(
        original.replace(
            "history = model.fit(",
            f"import subprocess\nsubprocess.run(['sh', '-c', 'sleep 120', {marker!r}])\n"
            "history = model.fit(",
        )
    )
    build = prepare(site_project)
    wait_until(lambda: processes_with(marker))
    # The build's own kernels, taken while they are its descendants (an orphan would be
    # re-parented): kernels other programs run on the machine meanwhile do not count.
    kernels = kernel_pids(build.pid)
    assert kernels, "the build's kernel was not found"
    build.send_signal(signum)
    output, _ = build.communicate(timeout=60)
    assert build.returncode != 0, output
    wait_until(lambda: not any(map(running, kernels)), timeout=20)  # no orphan kernel
    wait_until(lambda: not processes_with(marker), timeout=20)  # nor anything it started
    results = site_project / "results"
    assert not list(results.rglob("result.json")) and not list(results.rglob("*.tmp"))

    snippet.write_text(original)
    again = prepare(site_project)
    output, _ = again.communicate(timeout=300)
    assert again.returncode == 0, output
    assert "snippets: 1 executed, 0 reused, 0 failed" in output
