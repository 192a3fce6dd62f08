"""Shared fixtures and the suite's tiers.

Tiers are named by markers (registered in pyproject.toml): a test that starts a real kernel,
runs MkDocs itself, drives a browser, starts Ray or is otherwise slow says so, and `--tier
fast` (`make test`) leaves it out unless it is one of the `smoke` tests that drive the real
configuration end to end. Tests run in parallel under pytest-xdist; an `alone` test (it
measures concurrency or resource use) has the machine to itself.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from dlexec.sources.posts import PostDocument, read_document

REPO = Path(__file__).resolve().parents[1]
FIXTURE_SITE = Path(__file__).parent / "fixtures" / "tiny_blog"
MKDOCS = [sys.executable, "-m", "mkdocs"]

# What `--tier fast` runs: every test without a slow marker, and the smoke set.
SLOW_MARKERS = ("kernel", "build", "browser", "ray", "slow")
FAST_TIER = f"smoke or not ({' or '.join(SLOW_MARKERS)})"
CI = os.environ.get("CI", "").lower() in ("true", "1")


# -- tiers ------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--tier",
        choices=("fast", "all"),
        default="all",
        help=f"fast: only `{FAST_TIER}` (make test); all: every test (make test-all)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("tier") == "fast":
        chosen = config.option.markexpr
        config.option.markexpr = f"({FAST_TIER}) and ({chosen})" if chosen else FAST_TIER


# Rough seconds a test of each kind costs, to hand the heaviest modules out first.
COST = {"ray": 20.0, "kernel": 8.0, "slow": 8.0, "build": 4.0, "browser": 1.0}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules in order of their estimated cost, heaviest first (each module's tests in their
    own order): xdist hands whole modules to workers in this order, and a long module handed
    out last would leave the other cores idle at the end."""
    cost: dict[str, float] = {}
    for item in items:
        marks = {mark.name for mark in item.iter_markers()}
        seconds = max((COST[name] for name in marks & COST.keys()), default=0.1)
        cost[item.module.__name__] = cost.get(item.module.__name__, 0.0) + seconds
    items.sort(key=lambda item: -cost[item.module.__name__])  # stable: keeps a module's order


def pytest_report_header(config: pytest.Config) -> str:
    tier = config.getoption("tier")
    return f"tier: {tier}" + (f" (-m '{FAST_TIER}')" if tier == "fast" else "")


# -- `alone` tests have the machine to themselves ---------------------------------------------


_machine_held: ExitStack | None = None  # this worker's exclusive turn, while alone tests run


def _alone(item: pytest.Item | None) -> bool:
    return item is not None and item.get_closest_marker("alone") is not None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Under xdist every test holds a shared lock and an `alone` test an exclusive one, for its
    setup (module fixtures included), call and teardown: a test that measures overlap, memory
    or threads never shares the machine with another worker's test. Consecutive `alone` tests
    keep the exclusive turn, so each does not wait again for another worker's long test."""
    global _machine_held
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        yield
        return
    folder = _shared_folder(item.config._tmp_path_factory)
    if not _alone(item):
        with _turn(folder, alone=False):
            yield
        return
    if _machine_held is None:
        _machine_held = ExitStack()
        _machine_held.enter_context(_turn(folder, alone=True))
    try:
        yield
    finally:
        if not _alone(nextitem):
            _machine_held.close()
            _machine_held = None


@contextmanager
def _turn(folder: Path, alone: bool) -> Iterator[None]:
    """A readers-writer lock over flock(2) that favours writers: an `alone` test holds the gate
    while it waits, so no new test starts on another worker in the meantime."""
    with open(folder / "tests.gate", "a") as gate, open(folder / "tests.room", "a") as room:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(room, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(room, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(gate, fcntl.LOCK_UN)


# -- CI skips nothing -------------------------------------------------------------------------

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """CI installs every tool the tests use (.ci/run): a skip there hides an untested promise."""
    if CI and _skipped and not hasattr(session.config, "workerinput"):
        print(f"\nCI=true: {len(_skipped)} test(s) skipped: {', '.join(_skipped[:5])}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- projects ---------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with posts/ and one snippet, snippets/s.py (cell `train`), for parser tests."""
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "s.py").write_text("# %% train\nx = 1\n")
    (tmp_path / "posts").mkdir()
    return tmp_path


def refs(project: Path, text: str) -> PostDocument:
    """The references of a post posts/p.md in `project` holding `text`."""
    post = project / "posts" / "p.md"
    post.write_text(text)
    return read_document(post, project / "snippets")


def render(markdown: str, post: Path, report, links):
    """render_page for posts/p.md whose whole text is `markdown`, parsed as a build parses it
    (its snippets in the folder beside posts/)."""
    from dlexec.present.page import render_page

    document = read_document(post, post.parent.parent / "snippets", text=markdown)
    return render_page(document, report, links)


def copy_fixture_site(target: Path) -> Path:
    """tests/fixtures/tiny_blog copied to `target`, its mkdocs.yml pointing at the real hook."""
    shutil.copytree(FIXTURE_SITE, target)
    config = target / "mkdocs.yml"
    hook = (REPO / "hooks" / "executed_snippets.py").as_posix()
    config.write_text(config.read_text().replace("HOOK_PATH", hook))
    return target


@pytest.fixture
def site_project(tmp_path: Path) -> Path:
    """A fresh copy of tests/fixtures/tiny_blog, never built: no results, no cache."""
    return copy_fixture_site(tmp_path / "project")


def mkdocs_build(
    project: Path, mode: str = "auto", *extra: str
) -> subprocess.CompletedProcess[str]:
    """Run `mkdocs build` in `project` with BLOG_EXECUTE=`mode`; return the finished process."""
    env = {**os.environ, "BLOG_EXECUTE": mode, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [*MKDOCS, "build", "--strict", *extra],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


# The real blog's configuration: what every page is built with, not its content.
REAL_CONFIG = ("mkdocs.yml", "pyproject.toml", "docs", "overrides", "hooks")


def real_config_project(target: Path, post: tuple[str, str], snippet: tuple[str, str]) -> Path:
    """The real blog's configuration (mkdocs.yml, with `strict: true`, hooks, theme overrides,
    docs) with one post and one snippet, each (file name, text), instead of the real ones: a
    short build."""
    target.mkdir()
    for part in REAL_CONFIG:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part)
        else:
            shutil.copy2(source, target / part)
    for folder, (name, text) in (("posts", post), ("snippets", snippet)):
        (target / folder).mkdir()
        (target / folder / name).write_text(text)
    return target


# -- built once per test run, shared by every worker ------------------------------------------


def _shared_folder(factory: pytest.TempPathFactory) -> Path:
    """A folder every xdist worker of this run sees (each worker's base is one level down)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(
    factory: pytest.TempPathFactory, name: str, build: Callable[[Path], dict]
) -> tuple[Path, dict]:
    """`build(folder)` run by the first worker that asks; the others wait and reuse the folder.
    Returns the folder and what `build` returned (kept as JSON beside it)."""
    shared = _shared_folder(factory)
    folder, record = shared / name, shared / f"{name}.json"
    with FileLock(shared / f"{name}.lock"):
        if not record.exists():
            if folder.exists():  # a build that failed in another worker: start over
                shutil.rmtree(folder)
            folder.mkdir()
            facts = build(folder)
            record.write_text(json.dumps(facts))
    return folder, json.loads(record.read_text())


@pytest.fixture(scope="session")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real blog, built once per test run with BLOG_EXECUTE=never (results must be fresh)
    into a temporary folder. Tests only read it."""

    def build(folder: Path) -> dict:
        built = mkdocs_build(REPO, "never", "--site-dir", str(folder / "site"))
        assert built.returncode == 0, built.stderr
        assert re.search(r"snippets: 0 executed, \d+ reused, 0 failed", built.stderr)
        return {}

    folder, _ = built_once(tmp_path_factory, "real", build)
    return folder / "site"


@dataclass(frozen=True)
class BuiltFixtureSite:
    """tests/fixtures/tiny_blog after its first build (which executed tiny.py in a kernel) and
    a second, BLOG_EXECUTE=never, build. Read only: `built_site_project` copies it."""

    project: Path
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]


@pytest.fixture(scope="session")
def built_fixture_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltFixtureSite:
    def build(folder: Path) -> dict:
        project = copy_fixture_site(folder / "project")
        runs = {"first": mkdocs_build(project), "second": mkdocs_build(project, "never")}
        return {
            name: [run.args, run.returncode, run.stdout, run.stderr] for name, run in runs.items()
        }

    folder, facts = built_once(tmp_path_factory, "tiny-built", build)
    first, second = (subprocess.CompletedProcess(*facts[name]) for name in ("first", "second"))
    assert first.returncode == 0, first.stderr
    return BuiltFixtureSite(folder / "project", first, second)


@pytest.fixture
def built_site_project(built_fixture_site: BuiltFixtureSite, tmp_path: Path) -> Path:
    """A copy of the built fixture blog, results, notebooks, caches and site included: a test
    that starts from a built blog pays no kernel for it."""
    project = tmp_path / "project"
    shutil.copytree(built_fixture_site.project, project, symlinks=True)
    shutil.rmtree(project / ".cache" / "locks", ignore_errors=True)
    return project


# -- real kernels -----------------------------------------------------------------------------


def kernel_pids(parent: int | None = None) -> set[int]:
    """PIDs of the running Jupyter kernels that descend from process `parent` (this test
    process by default). A kernel some other program started meanwhile (another terminal's
    `make serve`) is not one of them."""
    import psutil

    try:
        descendants = psutil.Process(parent or os.getpid()).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    pids = set()
    for process in descendants:
        try:
            if any("ipykernel_launcher" in part for part in process.cmdline()):
                pids.add(process.pid)
        except psutil.Error:
            continue
    return pids


def processes_with(marker: str) -> dict[int, str]:
    """Live processes whose command line contains `marker`: PID -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in command and entry.name.isdigit():
            found[int(entry.name)] = command.replace(b"\0", b" ").decode(errors="replace")
    return found


class Gate:
    """A barrier between a test and sandboxed snippets, which can neither write a file the test
    sees nor reach its sockets. A snippet calls `gate.code(name)`: it starts a child process whose
    command line names the gate and the snippet, and waits for it; the test sees that child in
    /proc and ends it to let the snippet go on when `opens(waiting)` says so (the names waiting
    now). `released` lists the names let go, in order. `max_wait` bounds a snippet's wait, so
    that a broken engine fails the test's assertions instead of hanging."""

    def __init__(self, opens: Callable[[set[str]], bool], max_wait: int = 120) -> None:
        self.marker = f"dlexec-gate-{os.getpid()}-{id(self):x}-"
        self.opens, self.max_wait = opens, max_wait
        self.released: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def code(self, name: str) -> str:
        """Python for a snippet: wait at the gate as `name` (a shell named by the marker, `$0`,
        waits for a `sleep` the gate ends; `; :` keeps the shell from exec-ing it)."""
        command = ["sh", "-c", f"sleep {self.max_wait}; :", f"{self.marker}{name}"]
        quiet = "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL"
        return f"import subprocess\nsubprocess.run({command!r}, {quiet})\n"

    def __enter__(self) -> Gate:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for pid in processes_with(self.marker):  # nothing waits on after the test
            _kill(pid)

    def _watch(self) -> None:
        ended: set[int] = set()  # a killed child lingers in /proc until the snippet reaps it
        while not self._stop.is_set():
            waiting = {
                command.rsplit(self.marker, 1)[1].split()[0]: pid
                for pid, command in processes_with(self.marker).items()
                if pid not in ended
            }
            if waiting and self.opens(set(waiting)):
                for name, pid in waiting.items():
                    self.released.append(name)
                    ended.add(pid)
                    _kill(pid)
            self._stop.wait(0.05)


def _kill(pid: int) -> None:
    """Kill the process `pid`, then its children (killed first, a child would make a shell
    report it)."""
    import psutil

    try:
        family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in family:
        with suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)


def wait_until(
    condition: Callable[[], object], timeout: float = 60, what: str | Callable[[], str] = ""
) -> object:
    """Poll `condition` until it returns something true, and return that; fail after `timeout`
    seconds, saying `what` (or what it returns). The suite's one poll loop: for a server, a
    process, a page to change."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError((what() if callable(what) else what) or "never became true")
        time.sleep(0.05)  # how often the condition is checked; the condition decides when
    return value


# -- engine projects --------------------------------------------------------------------------


def engine_project(
    root: Path, snippets: dict[str, str], pyproject: str = "[tool.dlexec]\ntimeout = 120\n"
):
    """A project in `root` whose post posts/p.md embeds each snippet (name -> source)."""
    from dlexec.config import EngineConfig

    for folder in ("snippets", "posts"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(pyproject)
    embeds = "\n\n".join(f"[{name}](../snippets/{name}.py)" for name in snippets)
    (root / "posts" / "p.md").write_text(f"---\ndate: 2026-01-01\n---\n# P\n\n{embeds}\n")
    for name, text in snippets.items():
        (root / "snippets" / f"{name}.py").write_text(text)
    return EngineConfig.load(root, environ={"BLOG_EXECUTE": "always"})


def prepare_into(config, environ: dict[str, str], results: str):
    """Prepare the project's post into its own results folder; the report and log lines."""
    from dataclasses import replace

    from dlexec.build.engine import Engine

    config = replace(
        config, results_dir=config.root / results, local_results=config.root / f".{results}"
    )
    messages: list[str] = []
    report = Engine(config, log=messages.append, environ=environ).prepare(
        [config.posts_dir / "p.md"]
    )
    return report, messages


def git(root: Path, *args: str) -> str:
    """Run git in `root` as a throwaway committer; its standard output."""
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


# The key inputs of a result made by hand (a real result's are computed from its snippet).
KEY_INPUTS = {
    "source_sha256": "a" * 64,
    "engine": "6",
    "tensorflow": "2.21.0",
    "keras": "3.15.1",
    "data": {},
}


def forge_result(folder: Path, edit: Callable[[dict], None]) -> None:
    """Edit `folder`'s result.json as a hostile pull request would: `edit` changes the document
    in place, and the checksum is recomputed (anyone can, so it proves nothing)."""
    from dlexec.store.results import RESULT_FILE, _checksum

    path = folder / RESULT_FILE
    document = json.loads(path.read_text())
    del document["checksum"]
    edit(document)
    document["checksum"] = _checksum(document)
    path.write_text(json.dumps(document, indent=1))
