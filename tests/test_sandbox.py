"""A hostile snippet in a real kernel, in the real sandbox: it tries to read secrets, reach the
network, write into the repository and outlive the build, and achieves none of it.

The build that runs it has secrets in its environment; a server listens on the host's loopback;
the repository is a git checkout whose status must stay clean outside the snippet's own result.
"""

from __future__ import annotations

import html
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MKDOCS, processes_with, wait_until

from dlexec.run import sandbox

pytestmark = pytest.mark.skipif(
    sandbox.probe() is not None,
    reason=f"the sandbox tool cannot run here ({sandbox.probe()}); .ci/run installs bubblewrap",
)

SECRETS = {
    "DATABASE_URL": "postgres://admin:hunter2-db@db.internal/blog",
    "KAGGLE_KEY": "kaggle-0123456789abcdef",
    "GH_PAT": "ghp_notarealtokenbutasecret",
    "AZURE_STORAGE_CONNECTION_STRING": "AccountKey=azure-secret-key==",
    "MY_API_TOKEN": "t0ken-value",
}
MARKER = "dlexec-hostile-child-7f3a"  # in the detached children's command lines

HOSTILE = """# %% probe
import glob
import os
import socket
import subprocess

# 1. Every variable of the kernel, and of every process it can see.
print("ENV", dict(os.environ))
for path in sorted(glob.glob("/proc/*/environ")):
    try:
        print("PROC", path, open(path, "rb").read())
    except OSError as error:
        print("PROC", path, "unreadable:", error)
print("PPID-ENV", open(f"/proc/{os.getppid()}/environ", "rb").read())

# 2. The network: the build's loopback server.
probe = socket.socket()
probe.settimeout(3)
connect_result = probe.connect_ex(("127.0.0.1", PORT))
print("CONNECT", connect_result)

# 3. Writes into the repository through absolute paths.
writes = {}
for target in TARGETS:
    try:
        with open(target, "a") as handle:
            handle.write("forged")
        writes[target] = "written"
    except OSError as error:
        writes[target] = type(error).__name__
print("WRITES", writes)
wrote_anything = any(state == "written" for state in writes.values())

# 4. Children that try to outlive the build.
subprocess.Popen(["setsid", "sh", "-c", "trap '' TERM HUP; sleep 300; :", "MARKER"])
subprocess.Popen(["sh", "-c", "(trap '' TERM HUP; sleep 301; :) &", "MARKER"])
"""


@pytest.fixture
def hostile_project(built_site_project: Path) -> Iterator[tuple[Path, int]]:
    """The fixture blog, built and committed as a git checkout (its results included), plus
    a hostile post and snippet; a server listens on the build's loopback."""
    site_project = built_site_project
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    targets = [
        str(site_project / "posts" / "tiny.md"),
        str(site_project / "results" / "tiny" / "result.json"),
        str(site_project / "snippets" / "tiny.py"),
        str(site_project / ".git" / "config"),
    ]
    code = HOSTILE.replace("PORT", str(port)).replace("TARGETS", repr(targets))
    (site_project / "snippets" / "hostile.py").write_text(code.replace("MARKER", MARKER))
    (site_project / "posts" / "hostile.md").write_text(
        "---\ndate: 2026-01-02\n---\n# Hostile\n\n[probe](../snippets/hostile.py)\n"
    )
    (site_project / ".gitignore").write_text("/.cache/\n/site/\n")  # as the real repository
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=site_project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=site_project, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=site_project, check=True)
    yield site_project, port
    server.close()


def build(project: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build` of the project with secrets in the build's environment."""
    env = {**os.environ, **SECRETS, "BLOG_SANDBOX": "on", "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [*MKDOCS, "build", "--strict"],
        cwd=project,
        env={**env, "BLOG_EXECUTE": "auto"},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.kernel
@pytest.mark.build
def test_hostile_snippet_gets_no_secret_no_network_no_write_and_leaves_nothing(hostile_project):
    project, _ = hostile_project
    done = build(project)
    assert done.returncode == 0, done.stderr
    assert "snippets: 1 executed, 1 reused, 0 failed" in done.stderr
    [page] = (project / "site").glob("2026/01/02/*/index.html")
    shown = html.unescape(page.read_text())
    assert "ENV {" in shown and "PPID-ENV" in shown and "CONNECT" in shown  # the probes ran
    site_text = "".join(p.read_text(errors="replace") for p in (project / "site").rglob("*.*ml"))
    for name, value in SECRETS.items():
        assert value not in site_text, f"{name} reached the page"
    assert "CONNECT 0" not in shown
    assert "'written'" not in shown
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    own_outputs = ("results/hostile/", "notebooks/hostile.ipynb")
    changed = [line for line in status if not any(own in line for own in own_outputs)]
    assert changed == [], changed
    wait_until(
        lambda: not processes_with(MARKER), timeout=10, what="the snippet's children live on"
    )
    from dlexec.store.results import load_result

    values = load_result(project / "results" / "hostile").values
    assert values["connect_result"] != 0 and values["wrote_anything"] is False


def test_ci_refuses_to_run_unsandboxed_without_the_tool(site_project: Path, tmp_path: Path):
    bin_dir = tmp_path / "bin"  # a PATH with python but no bwrap
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bin_dir), "CI": "true", "BLOG_EXECUTE": "always"}
    env.pop("BLOG_SANDBOX", None)
    done = subprocess.run(
        [sys.executable, "-m", "dlexec", "--root", str(site_project), "prepare"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "refusing to run snippets unsandboxed" in done.stderr
    assert "apt-get install bubblewrap" in done.stderr
    assert not (site_project / "results" / "tiny").exists()


def test_laptop_without_the_tool_runs_with_a_loud_warning(monkeypatch):
    monkeypatch.setattr(sandbox, "probe", lambda: "bubblewrap (bwrap) is not installed")
    messages: list[str] = []
    chosen = sandbox.choose({"BLOG_SANDBOX": "auto"}, log=messages.append)
    assert chosen is None
    assert any("UNSANDBOXED" in message and "bubblewrap" in message for message in messages)
    with pytest.raises(sandbox.SandboxUnavailable):
        sandbox.choose({"BLOG_SANDBOX": "on"}, log=messages.append)
    assert sandbox.choose({"BLOG_SANDBOX": "off"}, log=messages.append) is None


def test_environment_is_an_allowlist():
    env = sandbox.kernel_environment(
        {"KERAS_HOME": "/k"},
        {**SECRETS, "LANG": "C.UTF-8", "LC_ALL": "C", "CUDA_VISIBLE_DEVICES": "0", "HOME": "/root"},
    )
    assert not set(SECRETS) & set(env)
    assert env["LANG"] == "C.UTF-8" and env["CUDA_VISIBLE_DEVICES"] == "0"
    assert env["KERAS_HOME"] == "/k" and "HOME" not in env
    assert env["PYTHONHASHSEED"] == "0"


FILLER = """# ---
# resources: {{memory: 1GiB}}
# ---

# %% fill
import os
import time

# Half the claim held in the process first: files and memory together pass the claim with
# the folder half full, long before the folder (as large as the claim) could fill up and fail
# the write itself, which the watch, sampling every 0.2 s, could otherwise be too late for.
held = b"1" * (512 * 2**20)
folder = "{folder}"
os.makedirs(folder, exist_ok=True)
chunk = bytes(64 * 2**20)
written = 0
try:
    for index in range(40):  # up to 2.5 GiB, 64 MiB at a time
        with open(os.path.join(folder, f"fill-{{index}}"), "wb") as stream:
            stream.write(chunk)
        written += len(chunk)
        time.sleep(0.05)  # under test: the memory watch samples every 0.2 s
finally:
    print("written", written // 2**20, "MiB")
time.sleep(30)  # under test: the watch stops it long before
"""


MEMFD_FILLER = """# ---
# resources: {memory: 1GiB}
# ---

# %% fill
import os
import time

handle = os.memfd_create("hog")  # a file in memory, in no process' resident set
for _ in range(40):
    os.write(handle, bytes(64 * 2**20))
    time.sleep(0.05)  # under test: the memory watch samples every 0.2 s
time.sleep(30)  # under test: the watch stops it long before
"""
SYSV_SHM = """# %% shm
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
segment = libc.shmget(0, 2**30, 0o1600)  # IPC_PRIVATE | IPC_CREAT: would outlive the process
print("shmget", segment, "errno", ctypes.get_errno())
"""


def _shared_memory_used() -> int:
    status = os.statvfs("/dev/shm")
    return (status.f_blocks - status.f_bfree) * status.f_frsize


@pytest.mark.kernel
def test_files_a_snippet_writes_count_against_its_memory_claim(tmp_path: Path):
    """A snippet claiming 1 GiB writes into its HOME, /tmp and /dev/shm (tmpfs: memory) or a
    memfd file: each is stopped with the memory error, and nothing lands in the host's shared
    memory or disk. System V shared memory (in no process, outliving it) is refused."""
    from conftest import engine_project, prepare_into

    folders = {"home": "/home/reader/out", "tmp": "/tmp/out", "shm": "/dev/shm/out"}
    snippets = {name: FILLER.format(folder=folder) for name, folder in folders.items()}
    snippets["memfd"] = MEMFD_FILLER
    snippets["sysv"] = SYSV_SHM
    config = engine_project(tmp_path, snippets)
    host_shared_before = _shared_memory_used()
    report, _ = prepare_into(config, {"BLOG_JOBS": "1"}, "results")
    sysv = report.snippet_named("sysv")
    assert sysv.status == "executed", sysv.error
    assert sysv.result.cells[0].outputs[0].text == "shmget -1 errno 28\n"  # ENOSPC: refused
    for name in [*folders, "memfd"]:
        run = report.snippet_named(name)
        assert run.status == "failed", f"{name}: {run.status}"
        message = str(run.error)
        assert "more than the 1.00 GiB this snippet claims" in message, message
        assert "GiB of it files in /home/reader, /tmp, /dev/shm" in message, message
    assert _shared_memory_used() - host_shared_before < 256 * 2**20
    assert not list(tmp_path.rglob("fill-*"))


@pytest.mark.kernel
def test_a_full_home_says_why(tmp_path: Path):
    """2 GiB reserved at once in a 1 GiB claim's HOME: the disk is full before any watch can
    sample it, and the error says where the limit comes from."""
    from conftest import engine_project, prepare_into

    body = "# ---\n# resources: {memory: 1GiB}\n# ---\n\n# %% fill\nimport os\n"
    body += "handle = os.open('big', os.O_CREAT | os.O_WRONLY)\n"
    body += "os.posix_fallocate(handle, 0, 2 * 2**30)\n"
    config = engine_project(tmp_path, {"full": body})
    report, _ = prepare_into(config, {"BLOG_JOBS": "1"}, "results")
    message = str(report.snippet_named("full").error)
    assert "OSError: [Errno 28] No space left on device" in message, message
    assert "HOME, /tmp and /dev/shm are each a folder in memory as large as the" in message


@pytest.mark.kernel
@pytest.mark.build
def test_a_build_from_a_symlinked_virtual_environment_runs_its_kernels(
    site_project: Path, tmp_path: Path
):
    """`.venv` reached through a symlink: the kernel starts as `sys.executable` names it, so
    the sandbox shows the environment at that path too (it died before replying)."""
    linked = tmp_path / "linked-venv"
    linked.symlink_to(Path(sys.prefix))
    python = linked / "bin" / Path(sys.executable).name
    env = {**os.environ, "BLOG_EXECUTE": "auto", "BLOG_SANDBOX": "on", "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run(
        [str(python), "-m", "mkdocs", "build", "--strict"],
        cwd=site_project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert "snippets: 1 executed, 0 reused, 0 failed" in built.stderr
