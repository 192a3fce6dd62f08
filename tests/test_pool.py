"""The local executor runs BLOG_JOBS kernels at once, each fitted to its snippet's claim: its
own CPUs (pinned, as many math threads), its own GPU (logical ones here, via BLOG_GPUS), a
memory claim that stops the snippet, not the machine, and `serial: true` alone. A parallel
build computes the same values as a serial one.

The probes wait at a `Gate` (tests/conftest.py) until what the test checks has happened: two
runs at once, or another run's kernel ready and asking to be admitted. No clock decides it,
so these tests share the machine with other workers' tests (no `alone` marker): a busy
machine makes them slower, never wrong."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import Gate, engine_project, prepare_into, wait_until

from dlexec.config import Mode
from dlexec.errors import AuthoringError, EngineError, Location
from dlexec.run.resources import Ledger, Machine
from dlexec.sources.needs import GiB, Needs, parse_needs, parse_size

PROBE = """\
import os, time
import psutil
kernel_started = psutil.Process().create_time()
import keras
import numpy as np
started = time.time()
keras.utils.set_random_seed(1)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
history = model.fit(np.ones((32, 4)), np.ones(32), epochs=2, verbose=0)
loss = float(history.history["loss"][-1])
cpus_pinned = len(os.sched_getaffinity(0))
threads = os.environ["OMP_NUM_THREADS"] + "/" + os.environ["TF_NUM_INTRAOP_THREADS"]
gpus_seen = os.environ["CUDA_VISIBLE_DEVICES"]
growth = os.environ["TF_FORCE_GPU_ALLOW_GROWTH"]
"""
FINISH = """\
finished = time.time()
print("loss", round(loss, 6))
"""
HOG = """\
import numpy as np
big = np.ones(3 * 2**30 // 8)  # 3 GiB, touched
import time; time.sleep(30)  # under test: the memory check stops it long before
"""
SCHEDULING = (
    "started",
    "finished",
    "gpus_seen",
    "kernel_started",
)  # when it ran, and which GPU it was given


def snippet(header: str, body: str) -> str:
    lines = "".join(f"# {line}\n" for line in header.splitlines())
    return f"# ---\n{lines}# ---\n\n# %% run\n{body}"


def probe(gate: Gate, name: str) -> str:
    """PROBE, then wait at the gate as `name`."""
    return PROBE + gate.code(name) + FINISH


def without(values: dict, names: tuple[str, ...]) -> dict:
    return {name: value for name, value in values.items() if name not in names}


def overlap(first: dict, second: dict) -> bool:
    return first["started"] < second["finished"] and second["started"] < first["finished"]


@contextmanager
def admissions_asked() -> Iterator[dict[str, int]]:
    """Counts the runs blocked in `Ledger.admit` now ("waiting": their kernels are ready) and
    the admissions granted so far ("granted")."""
    counts = {"waiting": 0, "granted": 0}
    lock = threading.Lock()
    original = Ledger.admit

    def admit(self, *args, **kwargs):
        with lock:
            counts["waiting"] += 1
        try:
            return original(self, *args, **kwargs)
        finally:
            with lock:
                counts["waiting"] -= 1
                counts["granted"] += 1

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Ledger, "admit", admit)
        yield counts


def one_at_a_time(gate: Gate, probes: int, admissions: dict[str, int]):
    """A gate that lets a probe go once another run's kernel is ready and asks to be admitted
    (so that a wrongly admitted run would be running now), or when no other probe is left."""

    def opens(waiting: set[str]) -> bool:
        return admissions["waiting"] > 0 or len(gate.released) + len(waiting) >= probes

    return opens


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory):
    """One project built with two jobs and logical GPUs, then with one job."""
    root = tmp_path_factory.mktemp("pool")
    with admissions_asked() as admissions, Gate(lambda waiting: False) as gate:
        config = engine_project(
            root,
            {
                "gpu_a": snippet("resources: {gpus: 1, cpus: 1}\n", probe(gate, "gpu_a")),
                "gpu_b": snippet("resources: {gpus: 1, cpus: 1}\n", probe(gate, "gpu_b")),
                "hog": snippet("resources: {memory: 1GiB, gpus: 0, cpus: 1}\n", HOG),
            },
        )
        gate.opens = lambda waiting: waiting == {"gpu_a", "gpu_b"}  # both running at once
        parallel = prepare_into(config, {"BLOG_JOBS": "2", "BLOG_GPUS": "0,1"}, "parallel")
        released_together = list(gate.released)
        gate.released.clear()
        gate.opens = one_at_a_time(gate, 2, admissions)
        serial = prepare_into(config, {"BLOG_JOBS": "1", "BLOG_GPUS": "0,1"}, "serial")
    assert sorted(released_together) == ["gpu_a", "gpu_b"], "the probes never ran at once"
    assert sorted(gate.released) == ["gpu_a", "gpu_b"]
    return parallel, serial


@pytest.fixture(scope="module")
def with_serial(tmp_path_factory: pytest.TempPathFactory):
    """Two jobs, one snippet `serial: true` (a separate build: a waiting serial run holds back
    narrower ones submitted after it, which would make the overlap above depend on timing)."""
    root = tmp_path_factory.mktemp("serial")
    with admissions_asked() as admissions, Gate(lambda waiting: False) as gate:
        gate.opens = one_at_a_time(gate, 2, admissions)
        config = engine_project(
            root,
            {
                "alone": snippet("serial: true\nresources: {gpus: 0}\n", probe(gate, "alone")),
                "other": snippet("resources: {gpus: 0, cpus: 1}\n", probe(gate, "other")),
            },
        )
        report = prepare_into(config, {"BLOG_JOBS": "2"}, "results")
    assert sorted(gate.released) == ["alone", "other"]
    return report


def values(report, name: str) -> dict:
    run = report.snippet_named(name)
    assert run is not None and run.status == "executed", run and run.error
    return run.result.values


@pytest.mark.kernel
def test_two_jobs_run_at_once_each_on_its_own_cpu_and_gpu(builds):
    (report, messages), _ = builds
    a, b = values(report, "gpu_a"), values(report, "gpu_b")
    assert overlap(a, b), "BLOG_JOBS=2 ran the two snippets one after the other"
    assert {a["gpus_seen"], b["gpus_seen"]} == {"0", "1"}  # one GPU each, never the same
    assert a["growth"] == b["growth"] == "true"
    for run in (a, b):
        assert run["cpus_pinned"] == 1 and run["threads"] == "1/1"  # as claimed: 1 CPU
    assert report.snippet_named("gpu_a").result.provenance["gpus"] in ("0", "1")
    assert "executor: local, 2 at once" in messages[0]


@pytest.mark.kernel
def test_serial_snippet_runs_alone_and_without_gpu_when_claiming_none(with_serial):
    report, _ = with_serial
    alone = values(report, "alone")
    assert not overlap(alone, values(report, "other")), "the serial snippet had company"
    assert (
        alone["gpus_seen"] == "" and "gpus" not in report.snippet_named("alone").result.provenance
    )


@pytest.mark.kernel
def test_memory_claim_stops_the_snippet_with_a_clear_error_and_others_finish(builds):
    (report, _), _ = builds
    hog = report.snippet_named("hog")
    assert hog.status == "failed"
    message = str(hog.error)
    assert message.startswith("snippets/hog.py:")
    assert "more than the 1.00 GiB this snippet claims" in message
    assert "resources: {memory: ...}" in message
    assert report.summary_line().startswith("snippets: 2 executed, 0 reused, 1 failed in ")
    timings = report.timing_lines()
    assert len(timings) == 3 and any("hog.py (failed)" in line for line in timings)


@pytest.mark.kernel
def test_parallel_and_serial_builds_compute_the_same_values(builds):
    (parallel, _), (serial, _) = builds
    for name in ("gpu_a", "gpu_b"):
        ours, theirs = values(parallel, name), values(serial, name)
        assert without(ours, SCHEDULING) == without(theirs, SCHEDULING), name
        text = [c.outputs for c in parallel.snippet_named(name).result.cells]
        assert text == [c.outputs for c in serial.snippet_named(name).result.cells]
    a, b = values(serial, "gpu_a"), values(serial, "gpu_b")
    assert not overlap(a, b)  # BLOG_JOBS=1: one at a time


@pytest.mark.kernel
def test_the_next_kernel_starts_while_a_snippet_runs(builds):
    _, (serial, _) = builds
    runs = sorted((values(serial, name) for name in ("gpu_a", "gpu_b")), key=lambda v: v["started"])
    first, second = runs
    # One job at a time, yet the second kernel was up (and importing Keras) before the first
    # snippet finished: its turn began with a warm kernel.
    assert second["kernel_started"] < first["finished"]
    assert second["started"] >= first["finished"]


def test_ledger_hands_out_in_order_and_never_oversubscribes():
    ledger = Ledger(Machine(cpus=(0, 1, 2), gpus=("0",), memory=8 * GiB), slots=2)
    first = ledger.admit(Needs(cpus=2), ())
    assert first.cpus == (0, 1)
    gpu = ledger.take_gpus(Needs())
    second = ledger.admit(Needs(cpus=1), gpu)
    assert second.cpus == (2,) and second.gpus == ("0",)
    assert ledger._free_slots == 0 and ledger._free_memory == 0
    ledger.release(first)
    ledger.release(second)
    alone = ledger.admit(Needs(serial=True), ())
    assert alone.cpus == (0, 1, 2) and alone.slots == 2


def test_a_claim_larger_than_the_machine_is_refused_up_front():
    where = Location(Path("snippets/big.py"))
    ledger = Ledger(Machine(cpus=(0, 1), gpus=(), memory=2 * GiB), slots=1)
    with pytest.raises(EngineError, match=r"claims 64.0 GiB; this machine has 2.0 GiB"):
        ledger.check(Needs(memory=64 * GiB), where)
    with pytest.raises(
        EngineError, match=r"^snippets/big.py: `resources: cpus` claims 1000 CPUs; "
    ):
        ledger.check(Needs(cpus=1000, memory=GiB), where)
    ledger.check(Needs(cpus=2, gpus=1, memory=GiB), where)  # no GPU here: it runs on the CPU
    with_gpus = Ledger(Machine(cpus=(0, 1), gpus=("0",), memory=2 * GiB), slots=1)
    with pytest.raises(EngineError, match=r"`resources: gpus` claims 4 GPUs; this machine has 1"):
        with_gpus.check(Needs(gpus=4, memory=GiB), where)


@pytest.mark.parametrize(
    ("resources", "serial", "message"),
    [
        ({"cpu": 2}, False, "unknown key 'cpu' in 'resources'"),
        ({"cpus": 0}, False, "'resources: cpus' is 0"),
        ({"gpus": True}, False, "'resources: gpus' is True"),
        ({"memory": "lots"}, False, "'resources: memory' is 'lots'"),
        ("4GiB", False, "'resources' must be a mapping"),
        (None, "yes", "'serial' is 'yes'"),
    ],
)
def test_bad_claims_are_authoring_errors(resources, serial, message):
    where = Location(Path("snippets/s.py"), 3)
    with pytest.raises(AuthoringError, match=message) as caught:
        parse_needs(resources, serial, where, where)
    assert str(caught.value).startswith("snippets/s.py:3: ")


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4GiB", 4 * GiB),
        ("512MiB", 512 << 20),
        ("2GB", 2 * 10**9),
        ("1.5G", int(1.5e9)),
        (2**30, GiB),
    ],
)
def test_memory_sizes(text, size):
    assert parse_size(text, Location(Path("s.py"))) == size


def test_header_needs_are_read_with_their_lines(project: Path):
    from dlexec.sources.snippets import load_snippet

    path = project / "snippets" / "s.py"
    path.write_text(
        "# ---\n# timeout: 30\n# resources: {cpus: 2, memory: 6GiB}\n# ---\n\n# %% a\nx = 1\n"
    )
    assert load_snippet(path).header.needs == Needs(cpus=2, memory=6 * GiB)
    path.write_text("# ---\n# timeout: 30\n# resources: {cpus: many}\n# ---\n\n# %% a\nx = 1\n")
    with pytest.raises(AuthoringError, match=r"s.py:3: 'resources: cpus' is 'many'"):
        load_snippet(path)


def test_blog_jobs_must_be_a_positive_number(tmp_path: Path):
    config = engine_project(tmp_path, {"s": snippet("timeout: 30\n", "x = 1\n")})
    report, _ = prepare_into(replace(config, mode=Mode.ALWAYS), {"BLOG_JOBS": "zero"}, "r")
    assert any("BLOG_JOBS='zero' must be a positive whole number" in str(e) for e in report.errors)


class CountedCondition(threading.Condition):
    """The ledger's condition, counting how often a thread went to wait on it: a test then
    knows that a run found it could not go on, instead of guessing from elapsed time."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1  # under the condition's lock
        return super().wait(timeout)


def counted(ledger: Ledger) -> Ledger:
    ledger._changed = CountedCondition()
    return ledger


def blocked(ledger: Ledger, waits: int = 1) -> None:
    """Return once threads have gone to wait on the ledger `waits` times in all: each found
    the ledger would not let it go on."""
    wait_until(lambda: ledger._changed.waits >= waits, 10, "no run blocked on the ledger")
    with ledger._changed:  # the waiter released the lock: it sleeps in wait()
        pass


def test_a_wide_claim_waits_until_enough_cpus_are_free():
    ledger = counted(Ledger(Machine(cpus=(0, 1), gpus=(), memory=8 * GiB), slots=2))
    narrow = ledger.admit(Needs(cpus=1), ())
    admitted = threading.Event()
    waiter = threading.Thread(target=lambda: (ledger.admit(Needs(cpus=2), ()), admitted.set()))
    waiter.start()
    blocked(ledger)
    assert not admitted.is_set(), "a 2-CPU claim was admitted with one CPU free"
    ledger.release(narrow)
    assert admitted.wait(5)
    waiter.join()


def test_waiting_runs_are_admitted_in_submission_order_not_arrival_order():
    ledger = counted(Ledger(Machine(cpus=(0,), gpus=(), memory=8 * GiB), slots=1))
    holder = ledger.admit(Needs(), (), order=0)
    admitted: list[int] = []

    def wait(order: int) -> None:
        placement = ledger.admit(Needs(), (), order)
        admitted.append(order)
        ledger.release(placement)

    later = threading.Thread(target=wait, args=(2,))
    later.start()  # submitted later, ready first
    blocked(ledger, 1)
    earlier = threading.Thread(target=wait, args=(1,))
    earlier.start()
    blocked(ledger, 2)
    ledger.release(holder)
    later.join(5), earlier.join(5)
    assert admitted == [1, 2]


@pytest.mark.slow
def test_curves_drawn_in_several_threads_are_the_bytes_drawn_alone():
    from concurrent.futures import ThreadPoolExecutor

    from dlexec.capture.plots import curve_files
    from dlexec.store.outputs import HistoryOutput

    histories = [
        HistoryOutput(
            f"m{n}", [1, 2, 3], {"loss": [1.0, 0.5 + n / 10, 0.2], "val_loss": [1.1, 0.7, 0.4]}
        )
        for n in range(6)
    ]
    alone = [curve_files(history) for history in histories]
    for _ in range(5):  # unlocked, about one round in three came out different
        with ThreadPoolExecutor(6) as threads:
            assert list(threads.map(curve_files, histories)) == alone


def test_a_run_queued_first_goes_first_even_when_a_later_kernel_is_ready_sooner():
    """A 1-CPU run whose kernel is ready before a queued 2-CPU run's would hold one of two
    CPUs for its whole run while the 2-CPU run waits: admission follows the queue."""
    ledger = counted(Ledger(Machine(cpus=(0, 1), gpus=(), memory=8 * GiB), slots=2))
    ledger.queue(0)  # the wide run: submitted first, its kernel still starting
    ledger.queue(1)
    admitted = threading.Event()
    narrow: list = []
    waiter = threading.Thread(
        target=lambda: (narrow.append(ledger.admit(Needs(cpus=1), (), 1)), admitted.set())
    )
    waiter.start()
    blocked(ledger)
    assert not admitted.is_set(), "a later run went before a queued earlier one"
    waits = ledger._changed.waits
    wide = ledger.admit(Needs(cpus=2), (), 0)  # wakes the narrow run, which must wait again
    blocked(ledger, waits + 1)
    assert wide.cpus == (0, 1) and not admitted.is_set()
    ledger.release(wide)
    assert admitted.wait(5)
    waiter.join()
    ledger.release(narrow[0])

    ledger.queue(2)  # a run whose kernel never starts gives its place up
    ledger.queue(3)
    ledger.withdraw(2)
    assert ledger.admit(Needs(cpus=1), (), 3).cpus == (0,)


def test_gpus_are_taken_in_queue_order_so_admission_cannot_deadlock():
    """Had the later run taken the only GPU first, it would wait for the earlier run's
    admission while the earlier run waits for its GPU."""
    ledger = counted(Ledger(Machine(cpus=(0, 1), gpus=("0",), memory=8 * GiB), slots=2))
    ledger.queue(0)
    ledger.queue(1)
    later_took = threading.Event()
    later = threading.Thread(target=lambda: (ledger.take_gpus(Needs(gpus=1), 1), later_took.set()))
    later.start()
    blocked(ledger)
    assert not later_took.is_set(), "a later run took the GPU before an earlier one"
    assert ledger.take_gpus(Needs(gpus=1), 0) == ("0",)
    first = ledger.admit(Needs(gpus=1), ("0",), 0)
    ledger.release(first)
    assert later_took.wait(5)
    later.join()
