"""BLOG_EXECUTOR=ray: snippets run as tasks on a Ray cluster (here a local one this test starts,
with 2 CPUs and 2 logical GPUs, so GPU assignment is exercised without a GPU), and what comes
back and is stored equals what the local executor stores, apart from provenance."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from conftest import engine_project, prepare_into

from dlexec.build.report import BuildReport
from dlexec.config import EngineConfig
from dlexec.errors import EngineError, Location
from dlexec.run.choose import make_executor
from dlexec.run.ray_executor import _worker_environ, check_versions
from dlexec.store.keys import KeyInputs
from dlexec.store.results import load_result
from dlexec.versions import installed_version

NUMBERS = "1,2\n3,4\n5,6\n"
PLAIN = """\
# ---
# data: [datasets/numbers.csv]
# resources: {gpus: 0, memory: 2GiB}
# ---

# %% data
import os

import keras
import numpy as np

numbers = np.loadtxt(os.path.join(os.environ["KERAS_HOME"], "datasets", "numbers.csv"), delimiter=",")
total = float(numbers.sum())
print("rows:", len(numbers), "total:", total)

# %% train
keras.utils.set_random_seed(0)
x = np.linspace(0, 1, 64, dtype="float32").reshape(-1, 1)
y = (x[:, 0] > 0.5).astype("int32")
model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, activation="sigmoid")], name="tiny")
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25)
final_loss = float(history.history["loss"][-1])
print("final loss:", round(final_loss, 6))
gpus_seen = os.environ["CUDA_VISIBLE_DEVICES"]
"""
GPU = """\
# ---
# resources: {gpus: 1, memory: 2GiB}
# ---

# %% probe
import os

visible = os.environ["CUDA_VISIBLE_DEVICES"].split(",")
one_gpu = len(visible) == 1 and visible[0] in ("0", "1")
print("GPUs visible:", len(visible))
print("memory growth:", os.environ["TF_FORCE_GPU_ALLOW_GROWTH"])
threads = os.environ["OMP_NUM_THREADS"]
"""


def make_project(root: Path, snippets: dict[str, str]) -> EngineConfig:
    """posts/p.md embedding each snippet; the data mirror holds datasets/numbers.csv."""
    (root / "mirror" / "datasets").mkdir(parents=True)
    (root / "mirror" / "datasets" / "numbers.csv").write_text(NUMBERS)
    pyproject = '[tool.dlexec]\ntimeout = 120\ndata_mirror = "mirror"\n'
    return engine_project(root, snippets, pyproject)


@pytest.mark.ray
@pytest.mark.kernel
def test_without_ray_address_the_build_starts_a_local_ray_and_stops_it(tmp_path: Path):
    """First in this module: no Ray is initialised yet. The engine ships its own package to the
    workers (the kernel imports that copy) and shuts down the Ray it started."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray is already initialised in this process")
    body = (
        "# %% run\nimport dlexec.capture._kernel\nkernel_engine = dlexec.capture._kernel.__file__\n"
    )
    config = make_project(tmp_path, {"where": body})
    environ, sigterm = dict(os.environ), signal.getsignal(signal.SIGTERM)
    report, messages = prepare_into(config, {"BLOG_EXECUTOR": "ray"}, "results")
    assert "ray: RAY_ADDRESS is not set; starting a local Ray instance on this machine" in messages
    run = executed(report, "where")
    assert run.result.provenance["executor"] == "ray"
    assert "/runtime_resources/py_modules_files/" in run.result.values["kernel_engine"]
    assert not ray.is_initialized()
    assert dict(os.environ) == environ and signal.getsignal(signal.SIGTERM) == sigterm


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray started by the test: 2 CPUs and 2 logical GPUs (there is no real one)."""
    ray = pytest.importorskip("ray")
    environ, sigterm = dict(os.environ), signal.getsignal(signal.SIGTERM)  # ray.init sets both
    ray.init(
        address="local",  # a new instance, whatever other cluster this machine knows of
        num_cpus=2,
        num_gpus=2,
        object_store_memory=256 << 20,
        include_dashboard=False,
        log_to_driver=False,
    )
    yield ray
    ray.shutdown()
    os.environ.clear()
    os.environ.update(environ)
    signal.signal(signal.SIGTERM, sigterm)


@pytest.fixture(scope="module")
def builds(ray_cluster, tmp_path_factory: pytest.TempPathFactory):
    """The same project executed by the local executor and by Ray."""
    config = make_project(tmp_path_factory.mktemp("ray"), {"plain": PLAIN, "gpu": GPU})
    local = prepare_into(
        config, {"BLOG_EXECUTOR": "local", "BLOG_JOBS": "2", "BLOG_GPUS": "0,1"}, "local"
    )
    on_ray = prepare_into(config, {"BLOG_EXECUTOR": "ray"}, "ray")
    return local, on_ray


def executed(report: BuildReport, name: str):
    run = report.snippet_named(name)
    assert run is not None and run.status == "executed", run and run.error
    stored = load_result(run.folder)  # checksums of result.json and its figures hold
    assert stored == run.result
    return run


@pytest.mark.ray
@pytest.mark.kernel
def test_ray_stores_what_the_local_executor_stores(builds):
    (local, _), (on_ray, messages) = builds
    assert not local.errors and not on_ray.errors, (local.error_texts(), on_ray.error_texts())
    assert any(m.startswith("executor: ray, the Ray already initialised") for m in messages)
    for name in ("plain", "gpu"):
        here, there = executed(local, name), executed(on_ray, name)
        assert there.result.values == here.result.values, name
        for mine, theirs in zip(here.result.cells, there.result.cells, strict=True):
            assert theirs == mine, f"{name}: cell {mine.name} printed or showed something else"
        assert there.result.files == here.result.files  # the same figures, byte for byte
        for file in here.result.files:
            assert (there.folder / file).read_bytes() == (here.folder / file).read_bytes()
        assert here.result.provenance["executor"] == "local"
        assert there.result.provenance["executor"] == "ray"
    plain = on_ray.snippet_named("plain").result
    assert plain.values["total"] == 21.0  # the data file came through the object store
    assert plain.values["gpus_seen"] == "" and "gpus" not in plain.provenance
    assert plain.histories() and plain.files  # a training curve came back with its figures


@pytest.mark.ray
@pytest.mark.kernel
def test_ray_assigns_the_claimed_gpu(builds):
    (local, _), (on_ray, _) = builds
    for report in (local, on_ray):
        result = report.snippet_named("gpu").result
        assert result.values["one_gpu"] is True
        assert result.provenance["gpus"] in ("0", "1")  # the id Ray (or the ledger) handed out
        assert result.provenance["device"] == "CPU (1 core)"  # logical GPUs: TF runs on the CPU
    text = "".join(o.text for o in on_ray.snippet_named("gpu").result.cells[0].outputs)
    assert text == "GPUs visible: 1\nmemory growth: true\n"


@pytest.mark.ray
@pytest.mark.kernel
def test_a_claim_no_node_can_hold_fails_at_once(ray_cluster, tmp_path: Path):
    body = "# ---\n# resources: {cpus: 3, gpus: 0}\n# ---\n\n# %% run\nx = 1\n"
    config = make_project(tmp_path, {"huge": body})
    report, _ = prepare_into(config, {"BLOG_EXECUTOR": "ray"}, "results")
    [error] = report.errors
    assert "claims 3 CPU(s), 0 GPU(s)" in str(error) and "no live node" in str(error)
    assert str(error).startswith("snippets/huge.py")


def test_without_ray_installed_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(EngineError, match=r"pip install .*'\.\[ray\]'"):
        make_executor({"BLOG_EXECUTOR": "ray"}, lambda: None, print)


def test_workers_follow_the_build_sandbox_policy_unless_started_with_it_on():
    policy = {"BLOG_SANDBOX": "off", "CI": "true"}
    assert _worker_environ({"PATH": "/bin"}, policy) == {"PATH": "/bin", **policy}
    strict = _worker_environ({"BLOG_SANDBOX": "on"}, policy)
    assert strict == {"BLOG_SANDBOX": "on", "CI": "true"}


def test_a_worker_with_other_library_versions_refuses_to_run():
    inputs = KeyInputs("0" * 64, "1", installed_version("tensorflow"), "0.0.1", {})
    with pytest.raises(
        EngineError, match=r"^s\.py: the Ray worker has keras 3\.\S+, the build machine 0\.0\.1"
    ):
        check_versions(inputs, Location(Path("s.py")))
