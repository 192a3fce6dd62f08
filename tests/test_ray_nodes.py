"""Two Ray nodes on this machine, the second in a filesystem view of its own: it cannot see the
repository, the data mirror or the build's temporary folders, as a worker machine of a real
cluster cannot. The build connects through RAY_ADDRESS like any cluster's; a snippet claiming
the GPU only the second node has runs there, and stores what the local executor stores.

The second node is `ray start` inside `unshare --user --map-root-user --mount`: tmpfs hides the
folders; the virtual environment (the worker's Python, Ray, Keras: what a worker image holds)
is bound back in. The engine's package reaches it from Ray (runtime_env py_modules), the data
file through the object store.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import prepare_into
from test_ray import PLAIN, executed, make_project

from dlexec.store.results import load_result

pytestmark = [pytest.mark.ray, pytest.mark.kernel]
REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix).resolve()
RAY = VENV / "bin" / "ray"
ON_THE_GPU_NODE = PLAIN.replace("gpus: 0", "gpus: 1")
JOIN_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def node_ports() -> list[str]:
    """Every port a node listens on, chosen free: two nodes on one machine must not share the
    defaults (the dashboard agent's 52365, the client server's 10001...)."""
    names = (
        "node-manager-port",
        "object-manager-port",
        "dashboard-agent-listen-port",
        "dashboard-agent-grpc-port",
        "runtime-env-agent-port",
        "metrics-export-port",
    )
    return [f"--{name}={free_port()}" for name in names]


def hidden_view(hidden: list[Path], unseen: list[Path]) -> str:
    """Shell lines that hide `hidden` under tmpfs, bind the virtual environment back, and fail
    (exit 97) if any of `unseen` is still visible."""
    lines = ["set -e", f"cd {shlex.quote(str(VENV))}"]
    for folder in hidden:  # a folder inside one already hidden is gone: skipped
        lines.append(f"[ -d {shlex.quote(str(folder))} ] && mount -t tmpfs hidden {folder}")
    lines += [
        # The working directory still is the virtual environment as it was before.
        f"mkdir -p {shlex.quote(str(VENV))}",
        f"mount --no-canonicalize --bind /proc/self/cwd {shlex.quote(str(VENV))}",
        "cd /",
    ]
    for path in unseen:  # a file, or a folder with anything in it (a hidden one is empty)
        quoted = shlex.quote(str(path))
        seen = f'[ -f {quoted} ] || [ -n "$(ls -A {quoted} 2>/dev/null)" ]'
        lines.append(f"if {seen}; then echo 'the node sees '{quoted} >&2; exit 97; fi")
    return "\n".join(lines)


def stop(process: subprocess.Popen) -> None:
    """Stop a `ray start --block` and everything it started (not `ray stop`: that would stop
    every Ray of this machine, another test's too)."""
    try:
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
    except psutil.NoSuchProcess:
        return
    for member in tree:
        member.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(tree, timeout=3)  # a raylet may linger; killed after
    for member in alive:
        member.kill()


WAIT_FOR_NODES = """
import sys, time
import ray
ray.init(address=sys.argv[1], log_to_driver=False)
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    alive = [node for node in ray.nodes() if node["Alive"]]
    if len(alive) == 2 and sum(n["Resources"].get("GPU", 0) for n in alive) == 1:
        sys.exit(0)
    time.sleep(0.5)
sys.exit(1)
"""


def wait_for_nodes(address: str, started: list[subprocess.Popen], log: Path, env: dict) -> None:
    """Until the cluster has two live nodes, the second holding the one GPU. Asked by another
    process: a driver that connects, disconnects and connects again in one process (as the
    build would next) gets objects its next connection cannot serve."""
    waiting = subprocess.Popen(
        [sys.executable, "-c", WAIT_FOR_NODES, address, str(JOIN_SECONDS)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while waiting.poll() is None:
        for process in started:
            if process.poll() is not None:
                waiting.kill()
                said = log.read_text(errors="replace")[-2000:]
                pytest.fail(f"a Ray node exited ({process.returncode}): {process.args}\n{said}")
        time.sleep(0.5)
    if waiting.returncode:
        pytest.fail(f"the second Ray node did not join within {JOIN_SECONDS} s")


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """A head with 1 CPU and no GPU, and a node with 2 CPUs and 1 (logical) GPU that sees no
    project file; yields the head's address, the node's log and the project folder."""
    pytest.importorskip("ray")
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-Urm", "true"]).returncode:
        if os.environ.get("CI"):
            pytest.fail("CI must allow unprivileged mount namespaces (unshare -Urm)")
        pytest.skip("this machine allows no unprivileged mount namespace (unshare -Urm)")
    project = tmp_path_factory.mktemp("two-nodes")
    mirror = REPO / "../shared/datasets"
    hidden = [Path(tempfile.gettempdir()), project, REPO, mirror.resolve()]
    unseen = [project, REPO / "pyproject.toml", REPO / "src", mirror.resolve()]
    # The head on the address Ray gives this machine, which is where a build on it looks for
    # its local node (on 127.0.0.1 a build attached elsewhere, and the node could not reach it).
    from ray.util import get_node_ip_address

    host, port = get_node_ip_address(), free_port()
    address = f"{host}:{port}"
    # No token authentication (`ray start` turns it on where ~/.ray/auth_token exists): the
    # build below connects as any build does without RAY_AUTH_MODE.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    head = [str(RAY), "start", "--head", "--block", f"--port={port}", "--num-cpus=1",
            "--num-gpus=0", "--include-dashboard=false", f"--node-ip-address={host}",
            f"--ray-client-server-port={free_port()}", *node_ports()]  # fmt: skip
    worker = [str(RAY), "start", "--block", f"--address={address}", "--num-cpus=2",
              "--num-gpus=1", "--node-ip-address=127.0.0.2", *node_ports()]  # fmt: skip
    script = f"{hidden_view(hidden, unseen)}\nexec {shlex.join(worker)}"
    log = project.parent / f"{project.name}-node.log"
    started = []
    with open(log, "wb") as node_log:
        try:
            started.append(subprocess.Popen(head, env=env, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, cwd="/"))  # fmt: skip
            started.append(
                subprocess.Popen(["unshare", "-Urm", "sh", "-c", script], env=env,
                                 stdout=node_log, stderr=subprocess.STDOUT, cwd="/")
            )  # fmt: skip
            wait_for_nodes(address, started, log, env)
            yield address, log, project
        finally:
            for process in reversed(started):
                stop(process)


def test_a_node_that_sees_no_project_file_runs_the_gpu_snippet_as_the_local_executor_would(
    two_nodes: tuple[str, Path, Path],
):
    """The Ray build is `python -m dlexec prepare` in its own process, as a user runs it (a
    test process that already started and stopped local Rays hands the next connection
    objects whose owner the cluster cannot reach)."""
    address, log, project = two_nodes
    config = make_project(project, {"on_gpu": ON_THE_GPU_NODE})
    local, _ = prepare_into(
        config, {"BLOG_EXECUTOR": "local", "BLOG_JOBS": "1", "BLOG_GPUS": "0"}, "local"
    )
    environ = {**os.environ, "BLOG_EXECUTOR": "ray", "RAY_ADDRESS": address,
               "BLOG_EXECUTE": "always", "RAY_AUTH_MODE": "disabled"}  # fmt: skip
    built = subprocess.run(
        [sys.executable, "-m", "dlexec", "--root", str(project), "prepare"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    node_said = log.read_text(errors="replace")[-3000:]
    assert built.returncode == 0, (built.stderr[-3000:], node_said)
    said = f"executor: ray, cluster at {address} (2 node(s), 3 CPU(s), 1 GPU(s)"
    assert said in built.stderr, built.stderr
    here = executed(local, "on_gpu")
    there = load_result(project / "results" / "on_gpu")  # checksums of the record and figures
    # Only the second node has a GPU: the run claiming one ran there.
    assert there.provenance["executor"] == "ray"
    assert there.provenance["gpus"] == "0"
    assert there.values == here.result.values
    assert there.values["total"] == 21.0  # the data file came through the object store
    for mine, theirs in zip(here.result.cells, there.cells, strict=True):
        assert theirs == mine, f"cell {mine.name} printed or showed something else"
    assert there.files == here.result.files
    for file in here.result.files:
        assert (project / "results" / "on_gpu" / file).read_bytes() == (
            here.folder / file
        ).read_bytes()
