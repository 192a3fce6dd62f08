"""Isolation of snippet kernels with bubblewrap (`bwrap`), a maintained sandboxing tool.

Every kernel starts inside a sandbox with: no network (its own, empty network namespace); its
own PID namespace (it cannot see the build's processes or their `/proc/<pid>/environ`, and every
process it starts dies with it); a read-only view of only what Python, the engine and the
libraries need (the system's /usr, the interpreter, the virtual environment, the engine's
package); writable HOME (working directory, KERAS_HOME with the declared data bound read-only),
/tmp and /dev/shm, each a tmpfs as large as the memory claim and counted in it, so nothing a
snippet writes lands on the host's disk or shared memory; the run's socket folder (Jupyter talks
to the kernel over Unix sockets there, since TCP on localhost does not cross network
namespaces); and an allowlisted environment.

`BLOG_SANDBOX`: unset or `auto` sandboxes when bwrap works, else warns loudly (and refuses when
`CI=true`); `on` requires it; `off` runs kernels unsandboxed (unsafe: trusted snippets only).
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
from jupyter_client.manager import AsyncKernelManager

import dlexec

from ..errors import EngineError

# What Python, Keras, the backends, CUDA and the locale need; nothing else reaches a kernel.
ALLOWED_NAMES = frozenset(
    {
        "LANG", "LANGUAGE", "TZ", "TERM",
        "KERAS_BACKEND", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "LD_LIBRARY_PATH",
        "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES",
        "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "TF_FORCE_GPU_ALLOW_GROWTH",
        "TF_GPU_ALLOCATOR", "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS",
        "XLA_FLAGS", "JAX_PLATFORMS", "JAX_ENABLE_X64",
        "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION",
        "PYTORCH_CUDA_ALLOC_CONF", "CUBLAS_WORKSPACE_CONFIG",
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    }
)  # fmt: skip
ALLOWED_PREFIXES = ("LC_",)
# Set for every kernel: deterministic hashing and ops, unbuffered output, crash stacks.
FIXED_ENV = {
    "PYTHONHASHSEED": "0",
    "PYTHONUNBUFFERED": "1",
    "PYTHONFAULTHANDLER": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "TF_DETERMINISTIC_OPS": "1",
    "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
}
RECEIVE_QUEUE = 32  # kernel messages the build buffers per channel (each at most ~1 MB)
HOME_INSIDE = Path("/home/reader")  # the kernel's home, working directory and KERAS_HOME parent
# Where a sandboxed kernel can write: each a tmpfs (memory, not the host's disk or /dev/shm),
# sized like the snippet's memory claim and counted with it.
SCRATCH = (HOME_INSIDE, Path("/tmp"), Path("/dev/shm"))
DEFAULT_SCRATCH = 4 * 1024**3
SYSTEM_DIRS = ("/usr", "/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin")
ETC_ENTRIES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "passwd", "group",
    "nsswitch.conf", "fonts", "alternatives", "mime.types", "os-release", "locale.alias",
)  # fmt: skip
GPU_DEVICE_GLOBS = ("nvidia*", "nvidia-caps", "dri", "kfd")
INSTALL_ADVICE = (
    "install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: "
    "`sudo dnf install bubblewrap`); on Ubuntu 24.04 unprivileged user namespaces must also be "
    "allowed (`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`). "
    "BLOG_SANDBOX=off runs snippets unsandboxed: UNSAFE, only for snippets you trust"
)


class SandboxUnavailable(EngineError):
    """The sandbox is required (CI, or BLOG_SANDBOX=on) but bubblewrap cannot start."""


@dataclass(frozen=True)
class Sandbox:
    """A bubblewrap sandbox: `bwrap` is the executable's path."""

    bwrap: str

    def command(
        self,
        run_dir: Path,
        env: Mapping[str, str],
        readonly: Iterable[Path],
        files: Mapping[Path, Path] | None = None,
        scratch_bytes: int = DEFAULT_SCRATCH,
    ) -> list[str]:
        """The `bwrap ...` prefix that confines a kernel: its writable places are HOME_INSIDE,
        /tmp and /dev/shm (SCRATCH), each a tmpfs of `scratch_bytes` (memory: MemoryWatch
        counts their files with the kernel's processes), and its `ipc` folder (the kernel's
        sockets) keeps its path, which the connection file names; `files` are bound read-only
        at their targets (target -> source)."""
        args = [self.bwrap, "--unshare-all", "--die-with-parent", "--new-session"]
        args += ["--cap-drop", "ALL", "--hostname", "sandbox", "--clearenv"]
        for name, value in sorted(env.items()):
            args += ["--setenv", name, value]
        args += ["--proc", "/proc", "--dev", "/dev"]
        for folder in SCRATCH:
            args += ["--size", str(scratch_bytes), "--tmpfs", str(folder)]
        args += _system_mounts() + _gpu_mounts()
        for path in _outermost(readonly):  # a symlinked path shows its target's files
            args += ["--ro-bind", os.path.realpath(path), str(path)]
        ipc = str(run_dir / "ipc")
        args += ["--bind", ipc, ipc, "--chdir", str(HOME_INSIDE)]
        for target, source in sorted((files or {}).items()):
            args += ["--ro-bind", str(source), str(target)]
        program = seccomp_program()
        if program is None:
            return [*args, "--"]
        # bwrap reads the filter from a file descriptor: a shell opens it and execs bwrap.
        (run_dir / "seccomp.bpf").write_bytes(program)
        opener = ["/bin/sh", "-c", f'exec "$@" {SECCOMP_FD}<"$0"', str(run_dir / "seccomp.bpf")]
        return [*opener, *args, "--seccomp", str(SECCOMP_FD), "--"]


# System V shared memory outlives the process that made it and is in no process' memory, so the
# memory watch could not see it: `shmget` fails with ENOSPC in the sandbox. (POSIX shared memory
# lives in /dev/shm, a counted tmpfs; memfd files are counted by the watch.) A classic BPF
# program: check the architecture, then the system call number (x32 calls are refused too).
SECCOMP_FD = 9
SHMGET = {"x86_64": (0xC000003E, 29), "aarch64": (0xC00000B7, 194)}  # AUDIT_ARCH_*, __NR_shmget
ENOSPC = 28


def seccomp_program(machine: str | None = None) -> bytes | None:
    """The filter for this machine's architecture (None where the call number is not known)."""
    known = SHMGET.get(machine or platform.machine())
    if known is None:
        return None
    arch, shmget = known
    load, jump_equal, jump_at_least, give = 0x20, 0x15, 0x35, 0x06
    refuse, allow = 0x00050000 | ENOSPC, 0x7FFF0000  # SECCOMP_RET_ERRNO | errno, _RET_ALLOW
    program = [
        (load, 0, 0, 4),  # A = seccomp_data.arch
        (jump_equal, 0, 3, arch),  # another architecture: allow
        (load, 0, 0, 0),  # A = seccomp_data.nr
        (jump_at_least, 2, 0, 0x40000000),  # an x32 call: refuse
        (jump_equal, 1, 0, shmget),
        (give, 0, 0, allow),
        (give, 0, 0, refuse),
    ]
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


def manager_class(prefix: list[str], options: dict[str, Any]) -> type[AsyncKernelManager]:
    """A kernel manager class with fixed `options` that starts the kernel under `prefix` (the
    sandbox command; empty for none)."""

    class SandboxedKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**{**kwargs, **options})
            # Messages the build has not read yet queue in its memory, up to this many per
            # channel (ZMQ's default is 1,000); past it the kernel's side holds or drops them.
            self.context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            return [*prefix, *super().format_kernel_cmd(extra_arguments)]

    return SandboxedKernelManager


def kernel_environment(
    run_env: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Allowlisted variables of the build's environment, the fixed ones, then `run_env`."""
    source = os.environ if environ is None else environ
    env = {
        name: value
        for name, value in source.items()
        if name in ALLOWED_NAMES or name.startswith(ALLOWED_PREFIXES)
    }
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
    )
    return {**env, **FIXED_ENV, **run_env}


def readonly_paths() -> list[Path]:
    """The interpreter, the virtual environment and the engine's package, nothing else: each
    at its real path and, when the build reached it through a symlink (a linked `.venv`), at
    that path too, since the kernel is started as the build's `sys.executable` names it."""
    engine = Path(dlexec.__file__).parent
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), engine}
    paths.add(Path(os.path.realpath(sys.executable)).parent.parent)
    paths.add(Path(sys.executable).parent.parent)
    existing = {Path(os.path.abspath(path)) for path in paths if path.exists()}
    return sorted(existing | {path.resolve() for path in existing})


def choose(environ: Mapping[str, str] | None = None, log: Any = print) -> Sandbox | None:
    """The sandbox to run kernels in, per BLOG_SANDBOX and CI; None means unsandboxed."""
    environ = os.environ if environ is None else environ
    wanted = environ.get("BLOG_SANDBOX", "auto").strip().lower() or "auto"
    if wanted not in ("auto", "on", "off"):
        raise EngineError(f"BLOG_SANDBOX={wanted!r} is not one of auto, on, off")
    if wanted == "off":
        _warn_once(log, "BLOG_SANDBOX=off: snippets run UNSANDBOXED, with the build's access")
        return None
    problem = probe()
    if problem is None:
        return Sandbox(shutil.which("bwrap") or "bwrap")
    if wanted == "on" or environ.get("CI", "").lower() in ("true", "1"):
        raise SandboxUnavailable(
            f"refusing to run snippets unsandboxed: {problem}; {INSTALL_ADVICE}"
        )
    _warn_once(log, f"WARNING: snippets run UNSANDBOXED ({problem}); {INSTALL_ADVICE}")
    return None


@functools.cache
def probe() -> str | None:
    """None when bubblewrap can start a sandbox here, else what went wrong."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    check = [bwrap, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
    check += ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    check += ["--size", "1048576", "--tmpfs", "/tmp", "true"]  # `--size`: bubblewrap 0.8
    try:
        done = subprocess.run(check, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap cannot start: {error}"
    if done.returncode != 0:
        return f"bubblewrap cannot start a sandbox here: {done.stderr.strip() or done.returncode}"
    return None


_warned: set[str] = set()


def _warn_once(log: Any, message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log(message)


def _system_mounts() -> list[str]:
    """The system's programs and libraries (symlinks kept as symlinks), and a little of /etc."""
    args: list[str] = []
    for name in SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    for entry in ETC_ENTRIES:
        if os.path.lexists(f"/etc/{entry}"):
            args += ["--ro-bind", f"/etc/{entry}", f"/etc/{entry}"]
    return args


def _gpu_mounts() -> list[str]:
    """GPU device files, when the machine has any (CUDA also reads some of /sys)."""
    devices = sorted({path for pattern in GPU_DEVICE_GLOBS for path in Path("/dev").glob(pattern)})
    if not devices:
        return []
    args: list[str] = []
    for device in devices:
        args += ["--dev-bind", str(device), str(device)]
    for folder in ("/sys/bus", "/sys/devices", "/sys/class", "/sys/module"):
        if Path(folder).is_dir():
            args += ["--ro-bind", folder, folder]
    return args


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """Drop paths inside another path of the list (binding the outer one covers them)."""
    ordered = sorted(set(paths), key=lambda path: len(path.parts))
    kept: list[Path] = []
    for path in ordered:
        if not any(path.is_relative_to(outer) for outer in kept):
            kept.append(path)
    return kept
