"""Ctrl-C or SIGTERM in the middle of a run: no half-written result, no kernel left behind,
the result stored before intact, and the next build is correct."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import kernel_pids, processes_with, wait_until

from dlexec.store.results import load_result


def prepare(project: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dlexec", "--root", str(project), "prepare"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=interruptible,
    )


def interruptible() -> None:
    """Give the build Ctrl-C's default action, as a terminal does. A suite started in the
    background (`make test-all &`) hands its children SIGINT ignored, and Python then installs
    no KeyboardInterrupt handler: the build would never see the Ctrl-C this test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def running(pid: int) -> bool:
    """Is `pid` a live process (not a zombie waiting to be reaped)?"""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.kernel
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_run_leaves_nothing_half_done(built_site_project: Path, signum: int):
    site_project = built_site_project
    snippet = site_project / "snippets" / "tiny.py"
    original = snippet.read_text()
    stored = site_project / "results" / "tiny" / "result.json"
    before = stored.read_bytes()
    # The sandboxed snippet cannot write a marker file for the test: a process whose command
    # line carries a marker tells that training has started.
    marker = f"dlexec-training-started-{signum}"
    snippet.write_text(
        original.replace(
            "history = model.fit(",
            # Under test: a run that must be stopped (it never ends by itself in time).
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
    assert build.returncode == 128 + signum, output  # what a shell reports for a signal
    # One line says what happened and what was kept; a stopped run is no crash to debug.
    assert "Traceback" not in output, output
    assert "interrupted: results stored before the signal are kept" in output
    wait_until(lambda: not any(map(running, kernels)), timeout=20)  # no orphan kernel
    wait_until(lambda: not processes_with(marker), timeout=20)  # nor anything it started
    results = site_project / "results"
    assert stored.read_bytes() == before and not list(results.rglob("*.tmp"))
    assert load_result(stored.parent) is not None  # its checksum still holds

    snippet.write_text(original)
    again = prepare(site_project)
    output, _ = again.communicate(timeout=300)
    assert again.returncode == 0, output
    assert "snippets: 0 executed, 1 reused, 0 failed" in output
