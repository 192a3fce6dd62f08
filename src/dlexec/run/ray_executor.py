"""The Ray executor: each snippet a task on a Ray cluster (BLOG_EXECUTOR=ray).

The build machine keeps everything that decides and stores: freshness, locks, the atomic,
checksummed result folders. A task only executes. It carries its snippet's needs (`num_cpus`,
`num_gpus`, `memory`; Ray hands out the GPUs), starts the same sandboxed kernel the local
executor starts, on whichever worker Ray chose, and sends back the result bundle (the result
record and its figure files), which the build stores like a local run's.

- Where: RAY_ADDRESS (`host:6379`, or `ray://host:10001` through Ray Client); unset, a local
  Ray instance is started; a Ray already initialised in this process (tests, notebooks) is used.
- Code: the engine's own package travels with the tasks (runtime_env `py_modules`), so workers
  run this build's engine; its dependencies (Keras, TensorFlow, ipykernel, nbclient...) and
  bubblewrap must be installed on the workers, at the pinned versions.
- Data: the files a snippet declares go into Ray's object store (once per file per build);
  the task writes them into a temporary folder on its worker, which becomes the run's data.
- Sandbox: workers follow the build's BLOG_SANDBOX and CI (a worker started with
  BLOG_SANDBOX=on always sandboxes).

Ray is imported here only, and only when this executor is made: the rest of the engine works
without it installed.
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import CancelledError, Future, wait
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import dlexec

from ..errors import EngineError, Location, SnippetFailedError
from ..progress import Watcher
from ..sources.needs import GiB, Needs
from ..store.keys import KeyInputs
from ..versions import installed_version
from .base import Job, Outcome, outcome_of, start_kernel
from .resources import Cancelled

INSTALL_ADVICE = (
    "BLOG_EXECUTOR=ray needs Ray on the build machine: "
    "`.venv/bin/pip install -c requirements.lock -e '.[ray]'` (the pinned version; "
    "the workers need the same one)"
)
POLICY_NAMES = ("BLOG_SANDBOX", "CI")  # the build's sandbox policy, applied on the workers
QUIET = logging.getLogger("dlexec.ray")  # Ray's upload steps are not the build's news
QUIET.setLevel(logging.WARNING)


def _import_ray() -> ModuleType:
    try:
        import ray
    except ImportError as error:
        raise EngineError(f"{INSTALL_ADVICE} ({error})") from None
    return ray


class RayExecutor:
    """Runs jobs as Ray tasks, each carrying its snippet's needs."""

    def __init__(self, environ: Mapping[str, str], log: Callable[[str], None] = print) -> None:
        self.log = log
        self.ray = _import_ray()
        self.policy = {name: environ[name] for name in POLICY_NAMES if name in environ}
        self._lock = threading.Lock()
        self._pending: dict[Any, Future[Outcome]] = {}  # ObjectRef -> the build's future
        self._blobs: dict[tuple[str, int, int], Any] = {}  # data file -> its ObjectRef
        self._heard: set[str] = set()  # worker messages already logged
        self._owns = False  # did this executor call ray.init (then it shuts Ray down)
        self._task_env: dict[str, Any] | None = None  # runtime_env per task, else the job's
        self._environ: dict[str, str] = {}  # os.environ before this executor's ray.init
        where = self._connect(environ.get("RAY_ADDRESS", "").strip())
        self._remote = self.ray.remote(_execute)
        self.description = f"ray, {where} ({self._describe_cluster()})"

    def _connect(self, address: str) -> str:
        """Connect (or start a local instance), with the engine's package shipped to workers."""
        ray = self.ray
        engine = str(Path(dlexec.__file__).resolve().parent)
        if ray.is_initialized():
            # Local paths are uploaded only by ray.init; here the package is uploaded once,
            # as ray.init would, and named by its URI in each task's runtime_env.
            self._task_env = _uploaded_engine(engine)
            return "the Ray already initialised in this process"
        options: dict[str, Any] = {
            "runtime_env": {"py_modules": [engine]},
            "log_to_driver": False,  # results come back as values; worker chatter stays there
        }
        if not address:
            self.log("ray: RAY_ADDRESS is not set; starting a local Ray instance on this machine")
            options["include_dashboard"] = False
        # ray.init sets variables (RAY_AUTH_MODE, PYTHONBREAKPOINT...) and a SIGTERM handler
        # that exits at once; the build keeps its own (SIGTERM stops kernels like Ctrl-C), and
        # gets its variables back when it shuts Ray down.
        self._environ = dict(os.environ)
        main = threading.current_thread() is threading.main_thread()
        sigterm = signal.getsignal(signal.SIGTERM) if main else None
        try:
            ray.init(address=address or "local", **options)
        except Exception as error:  # ConnectionError, ValueError, RuntimeError...
            where = f"the Ray cluster at RAY_ADDRESS={address!r}" if address else "a local Ray"
            raise EngineError(f"cannot start or reach {where}: {error}") from None
        finally:
            if sigterm is not None:
                signal.signal(signal.SIGTERM, sigterm)
        self._owns = True
        return f"cluster at {address}" if address else "a local instance"

    def _describe_cluster(self) -> str:
        nodes = self._nodes()
        cpus = sum(node.get("CPU", 0) for node in nodes)
        gpus = sum(node.get("GPU", 0) for node in nodes)
        memory = sum(node.get("memory", 0) for node in nodes)
        gpu_text = f"{gpus:g} GPU(s)" if gpus else "no GPU"
        return (
            f"{len(nodes)} node(s), {cpus:g} CPU(s), {gpu_text}, {memory / GiB:.1f} GiB for tasks"
        )

    def _nodes(self) -> list[dict[str, float]]:
        """The resources of each live node."""
        return [node["Resources"] for node in self.ray.nodes() if node.get("Alive")]

    def submit(self, job: Job, watcher: Watcher) -> Future[Outcome]:
        where = Location(job.relative)
        gpus = self._fit(job.needs, where)
        blobs = {name: self._blob(path) for name, path in job.data.items()}
        options: dict[str, Any] = {
            "num_cpus": job.needs.cpus,
            "num_gpus": gpus,
            "memory": job.needs.memory,
            "max_retries": 0,  # a failed run is reported, not silently run again
            "name": f"dlexec {job.relative.as_posix()}",
        }
        if self._task_env is not None:
            options["runtime_env"] = self._task_env
        ref = self._remote.options(**options).remote(replace(job, data={}), blobs, self.policy)
        mine: Future[Outcome] = Future()
        mine.set_running_or_notify_cancel()
        with self._lock:
            self._pending[ref] = mine
        ref.future().add_done_callback(lambda done: self._deliver(job, ref, done, mine))
        watcher.running()
        return mine

    def _fit(self, needs: Needs, where: Location) -> int:
        """The GPUs the task asks for (a run needing a GPU runs on the CPU where the cluster has
        none); refuse needs no live node can hold (Ray would keep it waiting for ever)."""
        nodes = self._nodes()
        gpus = needs.gpus_on(int(max((node.get("GPU", 0) for node in nodes), default=0)))
        if not any(
            node.get("CPU", 0) >= needs.cpus
            and node.get("GPU", 0) >= gpus
            and node.get("memory", 0) >= needs.memory
            for node in nodes
        ):
            largest = ", ".join(
                f"{node.get('CPU', 0):g} CPU(s)/{node.get('GPU', 0):g} GPU(s)/"
                f"{node.get('memory', 0) / GiB:.1f} GiB"
                for node in nodes
            )
            raise EngineError(
                f"`resources:` claims {needs.cpus} CPU(s), {gpus} GPU(s) and "
                f"{needs.memory / GiB:.1f} GiB on one machine; no live node of the Ray cluster "
                f"has that much (nodes: {largest or 'none'})",
                where,
            )
        return gpus

    def _blob(self, path: Path) -> Any:
        """The object-store copy of a data file, put there once per file and build."""
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key not in self._blobs:
                self._blobs[key] = self.ray.put(path.read_bytes())
            return self._blobs[key]

    def _deliver(self, job: Job, ref: Any, done: Future, mine: Future[Outcome]) -> None:
        """Hand the task's outcome (or why there is none) to the build's future."""
        with self._lock:
            self._pending.pop(ref, None)
        if mine.done():  # cancelled by close()
            return
        try:
            payload, messages = done.result()
        except (CancelledError, self.ray.exceptions.TaskCancelledError):
            mine.set_exception(Cancelled())
            return
        except Exception as error:  # the task or its worker failed (not the snippet)
            mine.set_exception(_task_failure(job, error))
            return
        for message in messages:
            if message not in self._heard:
                self._heard.add(message)
                self.log(f"ray worker: {message}")
        if isinstance(payload, EngineError):
            mine.set_exception(payload)
        else:
            mine.set_result(payload)

    def close(self, cancel: bool = False) -> None:
        """Wait for the tasks (or, cancelling, stop them), then let Ray go if this started it."""
        with self._lock:
            pending = dict(self._pending)
        if cancel:
            for ref, mine in pending.items():
                self.ray.cancel(ref, force=True)
                if not mine.done():
                    mine.set_exception(Cancelled())
        else:
            wait(list(pending.values()))
        with self._lock:
            self._blobs.clear()
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()
            self._owns = False
            for name in set(os.environ) - set(self._environ):
                del os.environ[name]
            os.environ.update(self._environ)


def _uploaded_engine(engine: str) -> dict[str, Any]:
    """A runtime_env naming the engine's package, uploaded to the cluster (as ray.init does
    for a job's local py_modules; Ray refuses local paths in a task's own runtime_env)."""
    import ray
    from ray._private.runtime_env.py_modules import upload_py_modules_if_needed

    try:
        scratch = ray._private.worker.global_worker.node.get_runtime_env_dir_path()
        return upload_py_modules_if_needed(
            {"py_modules": [engine]}, include_gitignore=True, scratch_dir=scratch, logger=QUIET
        )
    except Exception as error:
        raise EngineError(
            f"cannot ship the engine ({engine}) to the Ray cluster: {error}; or initialise Ray "
            f"with runtime_env={{'py_modules': [{engine!r}]}}"
        ) from None


def _task_failure(job: Job, error: BaseException) -> SnippetFailedError:
    """Why a task gave no outcome (its worker or node died, Ray failed), as a snippet error."""
    cause = getattr(error, "cause", None) or error
    lines = str(cause).strip().splitlines() or [""]
    summary = f"{type(cause).__name__}: {lines[0]}" if lines[0] else type(cause).__name__
    return SnippetFailedError(
        f"the Ray task executing it failed: {summary}", Location(job.relative), str(error)
    )


def _execute(
    job: Job, blobs: Mapping[str, Any], policy: Mapping[str, str]
) -> tuple[Outcome | EngineError, list[str]]:
    """On a Ray worker: stage the job's data, run it in a fresh sandboxed kernel on the GPUs
    Ray assigned, and return its outcome (or the engine's error) with the messages to log."""
    import ray

    from .sandbox import choose

    messages: list[str] = []
    try:
        check_versions(job.inputs, Location(job.relative))
        with tempfile.TemporaryDirectory(prefix="dlexec-data-") as folder:
            job = replace(job, data=_stage(Path(folder), blobs))
            sandbox = choose(_worker_environ(os.environ, policy), log=messages.append)
            gpus = tuple(str(gpu) for gpu in ray.get_gpu_ids())
            # The kernel imports the engine's kernel side from the shipped package.
            engine = {"PYTHONPATH": str(Path(dlexec.__file__).resolve().parent.parent)}
            with start_kernel(job, sandbox, gpus, engine) as run:
                run.start()
                started = time.monotonic()
                execution = run.finish()
            seconds = time.monotonic() - started
        return outcome_of(job, execution, seconds, "ray"), messages
    except EngineError as error:
        return error, messages


def check_versions(inputs: KeyInputs, where: Location) -> None:
    """Refuse to run on a worker whose TensorFlow or Keras is not the build's: the cache key
    (computed on the build machine) would describe a run that did not happen."""
    for package in ("tensorflow", "keras"):
        here, build = installed_version(package), getattr(inputs, package)
        if here != build:
            raise EngineError(
                f"the Ray worker has {package} {here}, the build machine {build} (part of the "
                "cache key); install the same pinned versions on the workers "
                "(pip install -c requirements.lock -e '.[ray]')",
                where,
            )


def _stage(folder: Path, blobs: Mapping[str, Any]) -> dict[str, Path]:
    """Write each data file from the object store into `folder`, under its declared name."""
    import ray

    staged = {}
    for name, blob in blobs.items():
        target = (folder / name).resolve()
        if not target.is_relative_to(folder.resolve()):  # names were checked on the build side
            raise EngineError(f"data name {name!r} leaves its folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(ray.get(blob))
        staged[name] = target
    return staged


def _worker_environ(worker: Mapping[str, str], policy: Mapping[str, str]) -> dict[str, str]:
    """The worker's environment with the build's sandbox policy, except that a worker started
    with BLOG_SANDBOX=on keeps it."""
    environ = dict(worker)
    if worker.get("BLOG_SANDBOX", "").strip().lower() == "on":
        policy = {name: value for name, value in policy.items() if name != "BLOG_SANDBOX"}
    environ.update(policy)
    return environ
