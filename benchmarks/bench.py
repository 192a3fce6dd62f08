"""`make bench`: what the execution engine costs, measured side by side in one run.

The benchmark builds a throw-away blog (three posts, each embedding one small, seeded Keras
MNIST snippet) under `.cache/bench/` and measures, on this machine and in this order:

- Σ `python snippet.py`: each snippet run as the plain script a reader would run, with
  `KERAS_HOME` holding the data it declares; the baseline for executing.
- cold builds: `BLOG_EXECUTE=always mkdocs build` from a clean state (no site/, results/,
  notebooks/ or .cache/), once with `BLOG_JOBS=1` and once with the engine's default job count
  (or the `BLOG_JOBS` you set), sampling the resident memory of the whole process tree (mkdocs
  and every kernel it starts) every 0.2 s.
- `dlexec verify` on JAX (`backends = ["tensorflow", "jax"]`, no further seeds): each embed
  then has a JAX tab with that run's outputs beside TensorFlow's, as on the real site.
- warm builds: `BLOG_EXECUTE=never mkdocs build` after the cold build (every result reused),
  alternated with a build of the same posts without the engine (no hook, no mkdocs-jupyter; the
  posts are plain blog pages whose embeds stay literal links); median of 3 each.

Then it prints the raw seconds, the machine, and one line per figure:

    cold_ratio:        cold build (default jobs) / Σ python snippet.py
    warm_ratio:        warm build / the same site without the engine
    parallel_speedup:  cold build with 1 job / cold build with the default jobs
    peak_memory:       peak Σ RSS of the default-jobs cold build's process tree

Every figure is a ratio of two timings taken minutes apart on the same machine, in the same
run, with the same snippets: a ratio against a figure remembered from another day or another
machine would measure the machine, not the engine. Peak memory sums RSS, so pages shared
between processes (libraries) count once per process: an upper bound.

Social cards and RSS are left out of the throw-away site: they cost the same with and without
the engine, and need cairo and git. The timing figures live here, not in timed tests.

`--quick` (or BENCH_QUICK=1) trains 1 epoch on 1,000 images: for checking the script itself;
its figures mean little.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml

from dlexec.config import EngineConfig

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / ".cache" / "bench"
HOOKS = (REPO / "hooks" / "executed_snippets.py", REPO / "hooks" / "notebook_pages.py")
# As in the real mkdocs.yml: mkdocs-jupyter's converter is imported only when it converts.
LAZY_CONVERTER = "extra:\n  lazy_converter: !!python/name:dlexec.adapter.lazy_converter.READY\n"
PYTHON = sys.executable
SAMPLE_SECONDS = 0.2
WARM_REPEATS = 3
BUILD_TIMEOUT = 1800  # seconds; a hung build fails the benchmark instead of hanging it
MIB = 2**20

# The data the snippets declare, exactly as the blog's real MNIST snippets declare it.
DATA_FILES = ("datasets/t10k-images-idx3-ubyte.gz", "datasets/t10k-labels-idx1-ubyte.gz")
HEADER = """\
# ---
# data:
#   - file: datasets/t10k-images-idx3-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz
#     sha256: 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
#   - file: datasets/t10k-labels-idx1-ubyte.gz
#     origin: https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz
#     sha256: f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6
# ---
"""
# The loading code a reader runs at home (keras.utils.get_file finds the file in KERAS_HOME).
LOAD_CELL = '''
# %% load-data
import gzip

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

keras.utils.set_random_seed(SEED)

MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"


def load_idx(name, md5, header_bytes):
    """Download one MNIST IDX file (or find it in the Keras cache); return its bytes."""
    path = keras.utils.get_file(name, origin=MNIST_URL + name, file_hash=md5)
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header_bytes)


images = load_idx("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 16)
labels = load_idx("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 8)
images = images.reshape(-1, 28, 28, 1).astype("float32") / 255.0
x_train, y_train = images[:N_TRAIN], labels[:N_TRAIN]
x_test, y_test = images[8000:], labels[8000:]
print("train:", x_train.shape, "test:", x_test.shape)
'''
TRAIN_CELL = """
# %% train
model = keras.Sequential([keras.Input(shape=(28, 28, 1)), *LAYERS], name=NAME)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()
history = model.fit(x_train, y_train, epochs=EPOCHS, batch_size=16, validation_split=0.1)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy: {test_accuracy:.4f}")
"""
FIGURE_CELL = """
# %% predict
predicted = model.predict(x_test[:8], verbose=0).argmax(axis=1)
fig, axes = plt.subplots(1, 8, figsize=(8, 1.4))
for ax, image, digit in zip(axes, x_test[:8], predicted):
    ax.imshow(image.squeeze(), cmap="gray_r")
    ax.set_title(str(digit))
    ax.axis("off")
plt.show()
"""
# name -> (title, Keras layers after the input, draws a figure)
MODELS: dict[str, tuple[str, str, bool]] = {
    "bench_dense": (
        "A dense network",
        'layers.Flatten(), layers.Dense(512, activation="relu"), '
        'layers.Dense(256, activation="relu"), layers.Dense(10, activation="softmax")',
        False,
    ),
    "bench_cnn": (
        "A small CNN",
        'layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(), layers.Flatten(), '
        'layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")',
        False,
    ),
    "bench_cnn2": (
        "Two convolutions",
        'layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(), '
        'layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(), layers.Flatten(), '
        'layers.Dropout(0.3), layers.Dense(10, activation="softmax")',
        True,
    ),
}
POST = """\
---
date: 2026-01-0{day}
slug: {name}
tags: [mnist, benchmark]
---

# {title}

One small MNIST model, trained for the benchmark.

<!-- more -->

[Load the data](../snippets/{name}.py#load-data)

It classifies {{{{ {name}.test_accuracy:.1% }}}} of the test images correctly.

[Train it](../snippets/{name}.py#train)
"""
MARKDOWN_EXTENSIONS = [
    "admonition",
    "attr_list",
    "md_in_html",
    {"toc": {"permalink": True}},
    "pymdownx.details",
    {"pymdownx.highlight": {"anchor_linenums": True}},
    "pymdownx.inlinehilite",
    "pymdownx.superfences",
]
JUPYTER_PLUGIN = {
    "mkdocs-jupyter": {
        "include": ["*.ipynb"],
        "ignore": ["notebooks/*.ipynb", "*.md"],
        "cache": False,
        "execute": False,
        "include_source": True,
        "ignore_h1_titles": False,
    }
}
SUMMARY = re.compile(r"snippets: (\d+) executed, (\d+) reused, (\d+) failed")
# The engine's line saying how it runs snippets, e.g. "executor: local, 2 at once (...)".
EXECUTOR = re.compile(r"executor: ([^\n]*)")
JOBS_SAID = re.compile(r"(\d+) at once")
BUILT_IN = re.compile(r"Documentation built in ([0-9.]+) seconds")


class BenchError(Exception):
    """A step failed: the benchmark stops and says which, with the output's tail."""


@dataclass(frozen=True)
class Measured:
    """One timed command: wall seconds, peak RSS of its process tree, what it printed."""

    seconds: float
    peak_bytes: int
    stdout: str
    stderr: str

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / MIB

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


# --- the throw-away site ---------------------------------------------------------------


def snippet_source(name: str, epochs: int, n_train: int, seed: int) -> str:
    """A seeded MNIST snippet in the blog's percent format, with the real data header."""
    _, layer_code, draws = MODELS[name]
    load = LOAD_CELL.replace("SEED", str(seed)).replace("N_TRAIN", str(n_train))
    train = TRAIN_CELL.replace("LAYERS", f"[{layer_code}]").replace("NAME", repr(name))
    train = train.replace("EPOCHS", str(epochs))
    return HEADER + load + train + (FIGURE_CELL if draws else "")


def site_config(engine: bool) -> dict:
    """mkdocs.yml of the throw-away site: the real site's theme and plugins where they matter;
    without the engine, no hook and no mkdocs-jupyter, and the posts are ordinary docs pages."""
    plugins: list = [
        "search",
        {"blog": {"blog_dir": ".", "post_dir": "{blog}/posts", "authors": False,
                  "post_readtime": True}},
        "tags",
    ]  # fmt: skip
    config = {
        "site_name": "Benchmark blog",
        "site_url": "https://example.invalid/bench/",
        "repo_url": "https://github.com/example/bench",
        "docs_dir": "docs" if engine else "docs-plain",
        "site_dir": "site" if engine else "site-plain",
        "strict": engine,
        "theme": {"name": "material", "font": False},
        "plugins": [*plugins, JUPYTER_PLUGIN] if engine else plugins,
        "extra_css": ["stylesheets/executed.css"],
        "markdown_extensions": MARKDOWN_EXTENSIONS,
    }
    if engine:
        config["hooks"] = [hook.as_posix() for hook in HOOKS]
    else:  # the embeds are links to ../snippets/, outside docs-plain/: say so quietly
        config["validation"] = {"links": {"not_found": "info"}}
    return config


def write_site(root: Path, mirror: Path, quick: bool) -> list[Path]:
    """The throw-away site under `root` (replacing any earlier one); returns its snippets."""
    shutil.rmtree(root, ignore_errors=True)
    for folder in ("docs/stylesheets", "docs-plain/posts/", "posts", "snippets"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        "# Throw-away site of `make bench` (benchmarks/bench.py); rewritten on every run.\n"
        "[tool.dlexec]\n"
        f"data_mirror = {str(mirror)!r}\n"
        "timeout = 900\n"
        'backends = ["tensorflow", "jax"]  # warm builds show a JAX tab under every output\n'
        "seeds = 0\n"
    )
    (root / "docs" / "index.md").write_text("# Benchmark blog\n")
    shutil.copy(REPO / "docs" / "stylesheets" / "executed.css", root / "docs" / "stylesheets")
    epochs, n_train = (1, 1000) if quick else (3, 8000)
    snippets = []
    for day, (name, (title, _, _)) in enumerate(MODELS.items(), start=1):
        snippet = root / "snippets" / f"{name}.py"
        snippet.write_text(snippet_source(name, epochs, n_train, seed=day))
        snippets.append(snippet)
        (root / "posts" / f"{name}.md").write_text(POST.format(day=day, name=name, title=title))
    # The same site without the engine: the posts where the blog plugin looks for them.
    shutil.copytree(root / "docs", root / "docs-plain", dirs_exist_ok=True)
    shutil.copytree(root / "posts", root / "docs-plain" / "posts", dirs_exist_ok=True)
    for engine, name in ((True, "mkdocs.yml"), (False, "mkdocs-plain.yml")):
        text = yaml.safe_dump(site_config(engine), sort_keys=False)
        (root / name).write_text(text + (LAZY_CONVERTER if engine else ""))
    return snippets


def clean_state(root: Path) -> None:
    """Forget everything a build left: nothing of an earlier run can be reused."""
    for name in ("site", "site-plain", "results", "notebooks", ".cache"):
        shutil.rmtree(root / name, ignore_errors=True)


# --- measuring ------------------------------------------------------------------------


def tree_rss(root: psutil.Process) -> int:
    """Σ RSS of `root` and all its descendants now (processes may vanish meanwhile)."""
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += process.memory_info().rss
    return total


def measure(command: Sequence[str], cwd: Path, env: dict[str, str], what: str) -> Measured:
    """Run `command`, sampling its process tree's memory; fail with its output if it fails."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        root, peak = psutil.Process(process.pid), 0
        while True:
            peak = max(peak, tree_rss(root))
            try:
                process.wait(timeout=SAMPLE_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if time.perf_counter() - start > BUILD_TIMEOUT:
                    process.kill()
                    process.wait()
                    raise BenchError(f"{what} took over {BUILD_TIMEOUT} s; stopped") from None
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        measured = Measured(seconds, peak, out.read(), err.read())
    if process.returncode != 0:
        raise BenchError(
            f"{what} failed (exit {process.returncode}): {shlex.join(command)} in {cwd}\n"
            f"--- last lines of its output ---\n{tail(measured.stderr or measured.stdout)}"
        )
    return measured


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def base_env(**settings: str | None) -> dict[str, str]:
    """This environment with `settings` applied (None removes a variable). Python caches
    bytecode as on a user's machine: with PYTHONDONTWRITEBYTECODE (set in some shells and
    containers) the engine and hooks, which pip did not precompile, would be compiled on every
    build, while MkDocs without the engine imports only precompiled packages."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_scripts(snippets: list[Path], mirror: Path) -> list[Measured]:
    """Each snippet as a plain `python snippet.py`, its declared data in KERAS_HOME."""
    with tempfile.TemporaryDirectory(prefix="dlexec-bench-") as temp:
        keras_home = Path(temp) / "keras"
        for name in DATA_FILES:
            (keras_home / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(mirror / name, keras_home / name)
        env = base_env(KERAS_HOME=str(keras_home))
        runs = []
        for snippet in snippets:
            run = measure([PYTHON, str(snippet)], Path(temp), env, f"python {snippet.name}")
            print(f"  python {snippet.name}: {run.seconds:.1f} s ({accuracy(run.stdout)})")
            runs.append(run)
        return runs


def accuracy(stdout: str) -> str:
    found = re.findall(r"test accuracy: ([0-9.]+)", stdout)
    return f"test accuracy {found[-1]}" if found else "no test accuracy printed"


def build(root: Path, what: str, config: str = "mkdocs.yml", **env: str | None) -> Measured:
    command = [PYTHON, "-m", "mkdocs", "build", "--config-file", config]
    return measure(command, root, base_env(**env), what)


def check_summary(run: Measured, what: str, executed: int, reused: int) -> None:
    """The build did what the figure claims (a cold build that reused a result is no cold
    build); the engine's summary line says."""
    found = SUMMARY.search(run.output)
    if found is None:
        raise BenchError(f"{what}: no 'snippets: ...' summary line\n{tail(run.output)}")
    got = (int(found[1]), int(found[2]))
    if got != (executed, reused):
        raise BenchError(
            f"{what}: expected {executed} executed and {reused} reused, got {found[0]}"
        )


def cold_build(root: Path, jobs: str | None) -> Measured:
    """`BLOG_EXECUTE=always mkdocs build` from a clean state; jobs None: the engine's default."""
    clean_state(root)
    label = f"BLOG_JOBS={jobs}" if jobs else "default BLOG_JOBS"
    run = build(root, f"cold build ({label})", BLOG_EXECUTE="always", BLOG_JOBS=jobs)
    check_summary(run, f"cold build ({label})", executed=len(MODELS), reused=0)
    print(f"  cold build, {label}: {run.seconds:.1f} s, peak {run.peak_mib:.0f} MiB")
    return run


def verify_on_jax(root: Path) -> Measured:
    """Every snippet run on JAX too (`dlexec verify`), so warm builds render backend tabs."""
    run = measure([PYTHON, "-m", "dlexec", "verify"], root, base_env(), "verify on JAX")
    if f"variants: {len(MODELS)} executed" not in run.output:
        raise BenchError(f"verify on JAX did not run every snippet\n{tail(run.output)}")
    print(f"  dlexec verify on JAX: {run.seconds:.1f} s")
    return run


def warm_and_plain(root: Path) -> tuple[list[Measured], list[Measured]]:
    """Alternate warm engine builds (everything reused) with builds without the engine, so
    that whatever else the machine does falls on both alike."""
    warm, plain = [], []
    for _ in range(WARM_REPEATS):
        run = build(root, "warm build", BLOG_EXECUTE="never")
        check_summary(run, "warm build", executed=0, reused=len(MODELS))
        warm.append(run)
        plain.append(build(root, "build without the engine", "mkdocs-plain.yml"))
    print(f"  warm builds: {', '.join(f'{run.seconds:.2f}' for run in warm)} s")
    print(f"  builds without the engine: {', '.join(f'{run.seconds:.2f}' for run in plain)} s")
    return warm, plain


def median_line(what: str, runs: list[Measured]) -> str:
    """Median wall time, and MkDocs' own "built in" time (the rest is start-up and imports)."""
    said = [BUILT_IN.search(run.output) for run in runs]
    inside = [float(found[1]) for found in said if found]
    own = f" (MkDocs says built in {statistics.median(inside):.2f} s)" if inside else ""
    return f"{what}, median of {len(runs)}: {statistics.median(r.seconds for r in runs):.2f} s{own}"


def jobs_chosen(run: Measured, asked: str | None) -> str:
    """How many jobs the default-jobs build used: as asked, as the engine said, or 'default'."""
    said = EXECUTOR.search(run.output)
    found = JOBS_SAID.search(said[1]) if said else None
    return asked or (found[1] if found else "default")


def executor(run: Measured) -> str:
    said = EXECUTOR.search(run.output)
    return said[1] if said else "not said by the engine"


# --- the machine ----------------------------------------------------------------------


def machine() -> list[str]:
    """What the figures were measured on."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        cpu = names[0] if names else cpu
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = psutil.virtual_memory().total / 2**30
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("tensorflow", "keras", "mkdocs")
    )
    return [
        f"machine: {usable} cores usable ({os.cpu_count()} logical), {cpu}, "
        f"{memory:.1f} GiB memory, GPU: {gpu()}",
        f"software: Python {platform.python_version()}, {versions}, {platform.platform()}",
    ]


def load() -> tuple[float, float]:
    """The 1- and 5-minute load averages: other work on the machine shows here."""
    one, five, _ = psutil.getloadavg()
    return one, five


def busy(before: tuple[float, float]) -> bool:
    """Was other work running when the benchmark started (it is not running yet itself)?"""
    return before[0] > 0.5 * (os.cpu_count() or 1)


def gpu() -> str:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "none"
    try:
        done = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "none (nvidia-smi failed)"
    names = [line.split(" (UUID")[0] for line in done.stdout.splitlines() if line.strip()]
    return "; ".join(names) if done.returncode == 0 and names else "none"


def sandbox(run: Measured) -> str:
    warned = re.search(r"snippets run UNSANDBOXED[^\n]*", run.output)
    return f"none ({warned[0]})" if warned else "bubblewrap"


# --- main -----------------------------------------------------------------------------


def bench(quick: bool) -> None:
    mirror = EngineConfig.load(REPO).data_mirror  # the real site's, BLOG_DATA_MIRROR included
    missing = [name for name in DATA_FILES if not (mirror / name).is_file()]
    if missing:
        raise BenchError(f"data mirror {mirror} lacks {', '.join(missing)}")
    asked_jobs = os.environ.get("BLOG_JOBS") or None
    load_before = load()
    snippets = write_site(SITE, mirror, quick)
    print(f"throw-away site: {SITE}" + ("  (--quick: 1 epoch, 1,000 images)" if quick else ""))

    print("measuring:")
    scripts = run_scripts(snippets, mirror)
    cold_one = cold_build(SITE, "1")
    cold = cold_build(SITE, asked_jobs)
    verify_on_jax(SITE)
    warm, plain = warm_and_plain(SITE)

    python_sum = sum(run.seconds for run in scripts)
    warm_median = statistics.median(run.seconds for run in warm)
    plain_median = statistics.median(run.seconds for run in plain)
    jobs = jobs_chosen(cold, asked_jobs)
    print()
    for line in machine():
        print(line)
    load_after = load()
    print("load average (1 min, 5 min): {:.2f}, {:.2f} before; {:.2f}, {:.2f} after".format(
        *load_before, *load_after))  # fmt: skip
    if busy(load_before):
        print("warning: the machine was busy before the benchmark: the figures are noisy")
    print(f"sandbox: {sandbox(cold)}")
    print(f"executor of the default-jobs build: {executor(cold)}")
    print(f"python snippet.py, sum of {len(scripts)}: {python_sum:.1f} s "
          f"(peak {max(run.peak_mib for run in scripts):.0f} MiB)")  # fmt: skip
    print(f"cold build, BLOG_JOBS=1: {cold_one.seconds:.1f} s (peak {cold_one.peak_mib:.0f} MiB)")
    print(f"cold build, BLOG_JOBS={jobs}: {cold.seconds:.1f} s (peak {cold.peak_mib:.0f} MiB)")
    print(median_line("warm build", warm))
    print(median_line("build without the engine", plain))
    print(f"cold_ratio: {cold.seconds / python_sum:.2f}")
    print(f"warm_ratio: {warm_median / plain_median:.2f}")
    print(f"parallel_speedup: {cold_one.seconds / cold.seconds:.2f} (BLOG_JOBS={jobs})")
    print(f"peak_memory: {cold.peak_mib:.0f} MiB (BLOG_JOBS={jobs}; "
          f"1 job: {cold_one.peak_mib:.0f} MiB)")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
        help="1 epoch on 1,000 images, to check the script (also BENCH_QUICK=1)",
    )
    args = parser.parse_args(argv)
    try:
        bench(args.quick)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
