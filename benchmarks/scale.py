"""`make bench-scale`: what the engine costs per post as the blog grows, measured side by side.

The real site (its mkdocs.yml, docs/, overrides/, hooks/, snippets/ and committed results/) is
grown under `.cache/bench-scale/<N>/` to N posts: the six posts, then copies of them (each
copy its own slug and title, embedding the same snippets, so every result is reused). For each
N it measures warm `mkdocs build` of three sites built from the same posts, alternated,
median of 3 each:

- engine: the real configuration, `BLOG_EXECUTE=never` (every result reused, nothing runs);
- fair: the same pages without the engine: each post as the static Markdown the engine made
  of it (code fenced, every output pasted in as the HTML the page shows; written during a first
  engine build by benchmarks/scale_export.py), the result assets and notebooks as static
  files; no engine hooks, no mkdocs-jupyter. What a blog of the same content costs anyway;
- plain: the posts as written, embeds left as links (the comparison `make bench` makes).

Then the per-post cost of each (the slope between the smallest and largest N), the ratios,
and a profile (cProfile) of one engine and one fair build at the largest N: where the time of
each goes (Markdown and highlighting, the engine's events, notebooks, blog, search, RSS,
social cards, templates), per post.

    .venv/bin/python benchmarks/scale.py [N ...]      # default: 6 60 200

The first build of each N (social cards for every post, the posts' notebooks) is not timed.
"""

from __future__ import annotations

import pstats
import re
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench import BenchError, base_env, load, machine, measure

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / ".cache" / "bench-scale"
EXPORT_HOOK = Path(__file__).with_name("scale_export.py")
SIZES = (6, 60, 200)
REPEATS = 3
COPIED = ("docs", "overrides", "hooks", "snippets", "results")
ENGINE_HOOKS = ("hooks/executed_snippets.py", "hooks/notebook_pages.py")
VARIANTS = ("engine", "fair", "plain")
POST_SAMPLE = "attention-executed.md"  # whose page sizes are compared
JUPYTER_PLUGIN = re.compile(r"^  - mkdocs-jupyter:\n(?:    .*\n|\s*#.*\n)*", re.M)
# Where a build's time goes: (label, [(file suffix, function name or "on_*")]); cumulative
# time of those functions, summed. Plugin events do not call each other, so a row counts no
# second twice; rows overlap (the blog plugin renders excerpts: Markdown time in both).
PROFILE_PARTS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Markdown to HTML (Page.render)", [("mkdocs/structure/pages.py", "render")]),
    ("  of which code highlighting", [("pymdownx/highlight.py", "highlight")]),
    ("engine: prepare (on_files)", [("dlexec/adapter/mkdocs_hooks.py", "on_files")]),
    (
        "engine: page events",
        [
            ("dlexec/adapter/mkdocs_hooks.py", name)
            for name in ("on_page_markdown", "on_page_content", "on_page_context")
        ],
    ),
    ("notebook pages hook", [("hooks/notebook_pages.py", "on_*")]),
    ("blog plugin", [("material/plugins/blog/plugin.py", "on_*")]),
    ("tags plugin", [("material/plugins/tags/plugin.py", "on_*")]),
    ("search index", [("material/plugins/search/plugin.py", "on_*")]),
    ("RSS feeds", [("mkdocs_rss_plugin/plugin.py", "on_*")]),
    ("social cards", [("material/plugins/social/plugin.py", "on_*")]),
    ("glightbox", [("mkdocs_glightbox/plugin.py", "on_*")]),
    (
        "site hooks (chrome, KaTeX, authors)",
        [(f"hooks/{name}.py", "on_*") for name in ("site_chrome", "katex_math", "authors_check")],
    ),
    ("page templates (Jinja)", [("jinja2/environment.py", "render")]),
    ("whole build (mkdocs.commands.build.build)", [("mkdocs/commands/build.py", "build")]),
]


def grow(root: Path, count: int) -> None:
    """The real site under `root` with `count` posts: the six, then copies of them."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for name in COPIED:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "mkdocs.yml", root)
    mirror = (REPO / "../shared/datasets/keras").resolve()
    pyproject = (REPO / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(
        re.sub(r"^data_mirror = .*$", f"data_mirror = {str(mirror)!r}", pyproject, flags=re.M)
    )
    posts = sorted((REPO / "posts").glob("*.md"))
    (root / "posts").mkdir()
    for number in range(count):
        source = posts[number % len(posts)]
        if number < len(posts):
            shutil.copy(source, root / "posts")
        else:
            text = as_copy(source.read_text(), number)
            (root / "posts" / f"{source.stem}-{number}.md").write_text(text)


def as_copy(post: str, number: int) -> str:
    """The post with its own slug and title (the blog needs distinct URLs; social cards and
    search see distinct pages)."""
    post = re.sub(r"^slug: (.+)$", rf"slug: \1-{number}", post, count=1, flags=re.M)
    return re.sub(r"^# (.+)$", rf"# \1 ({number})", post, count=1, flags=re.M)


def configs(root: Path) -> None:
    """mkdocs-<variant>.yml beside the real mkdocs.yml: 'export' (the real one and the export
    hook), 'fair' and 'plain' (no engine hook, no mkdocs-jupyter, their own docs folder)."""
    real = (root / "mkdocs.yml").read_text()
    export = real.replace("hooks:\n", f"hooks:\n  - {EXPORT_HOOK.as_posix()}\n", 1)
    (root / "mkdocs-export.yml").write_text(export)
    without = JUPYTER_PLUGIN.sub("", real)
    for hook in ENGINE_HOOKS:
        without = re.sub(rf"^  - {re.escape(hook)}.*\n", "", without, flags=re.M)
    left = re.findall(
        r"^  - (mkdocs-jupyter|hooks/executed_snippets|hooks/notebook_pages)", without, re.M
    )
    if left:
        raise BenchError("mkdocs.yml changed shape: the engine is still in the 'fair' site")
    for variant in ("fair", "plain"):
        text = without.replace("docs_dir: docs", f"docs_dir: docs-{variant}")
        text = text.replace("site_dir: site", f"site_dir: site-{variant}")
        if variant == "plain":  # its embeds are links to ../snippets/, outside docs-plain/
            text += "\nvalidation:\n  links:\n    not_found: info\n"
        (root / f"mkdocs-{variant}.yml").write_text(text)


def prepare(root: Path) -> None:
    """First (untimed) builds: the engine's writes each post's notebook and, through the
    export hook, the fair site's posts; every site then builds once so its caches are warm."""
    export = root / "docs-fair"
    shutil.copytree(root / "docs", export)
    build(root, "export", SCALE_EXPORT=str(export))
    shutil.copytree(root / "site" / "assets" / "results", export / "assets" / "results")
    shutil.copytree(root / "site" / "notebooks", export / "notebooks")
    shutil.copytree(root / "docs", root / "docs-plain")
    shutil.copytree(root / "posts", root / "docs-plain" / "posts", dirs_exist_ok=True)
    for variant in ("fair", "plain"):
        build(root, variant)
    exported = len(list((export / "posts").glob("*.md")))
    posts = len(list((root / "posts").glob("*.md")))
    if exported != posts:
        raise BenchError(f"the export hook wrote {exported} of {posts} posts")


def build(root: Path, variant: str, *prefix: str, **env: str) -> float:
    """One `mkdocs build --strict` of the variant; its wall seconds."""
    config = "mkdocs.yml" if variant == "engine" else f"mkdocs-{variant}.yml"
    command = [*(prefix or (sys.executable,)), "-m", "mkdocs", "build", "--strict", "-f", config]
    settings = {"BLOG_EXECUTE": "never" if variant == "engine" else "auto", **env}
    return measure(command, root, base_env(**settings), f"{variant} build in {root}").seconds


def page_bytes(root: Path) -> dict[str, int]:
    """Size of the first post's page in each site (the fair site must show what the engine's
    shows: about the same size)."""
    slug = re.search(r"^slug: (.+)$", (REPO / "posts" / POST_SAMPLE).read_text(), re.M)[1]
    sizes = {}
    for variant, site in (("engine", "site"), ("fair", "site-fair"), ("plain", "site-plain")):
        pages = list((root / site).glob(f"20*/*/*/{slug}/index.html"))
        sizes[variant] = pages[0].stat().st_size if pages else 0
    return sizes


def timed(root: Path) -> dict[str, list[float]]:
    """REPEATS rounds of the three builds, alternated (a drift in the machine's speed touches
    all three alike)."""
    seconds: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for _ in range(REPEATS):
        for variant in VARIANTS:
            seconds[variant].append(build(root, variant))
    return seconds


def profile(root: Path, variant: str) -> dict[str, float]:
    """Seconds of each PROFILE_PARTS entry in one cProfile'd build of the variant."""
    output = root / f"{variant}.prof"
    build(root, variant, sys.executable, "-m", "cProfile", "-o", str(output))
    stats = pstats.Stats(str(output)).stats  # type: ignore[attr-defined]
    parts = {}
    for label, wanted in PROFILE_PARTS:
        parts[label] = sum(
            cumulative
            for (path, _, function), (_, _, _, cumulative, _) in stats.items()
            for suffix, name in wanted
            if path.endswith(suffix) and _matches(function, name)
        )
    return parts


def _matches(function: str, name: str) -> bool:
    return function.startswith("on_") if name == "on_*" else function == name


def main(argv: Sequence[str] | None = None) -> int:
    sizes = [int(arg) for arg in (argv if argv is not None else sys.argv[1:])] or list(SIZES)
    print("\n".join(machine()))
    print(f"load average before: {load()[0]:.2f}")
    medians: dict[int, dict[str, float]] = {}
    try:
        for count in sizes:
            root = ROOT / str(count)
            started = time.perf_counter()
            grow(root, count)
            configs(root)
            prepare(root)
            print(f"{count} posts: prepared in {time.perf_counter() - started:.0f} s; "
                  f"page bytes {page_bytes(root)}")  # fmt: skip
            seconds = timed(root)
            for variant in VARIANTS:
                runs = ", ".join(f"{s:.2f}" for s in seconds[variant])
                print(f"  {variant}: {runs} s")
            medians[count] = {v: statistics.median(s) for v, s in seconds.items()}
        largest = ROOT / str(sizes[-1])
        parts = {variant: profile(largest, variant) for variant in ("engine", "fair")}
    except BenchError as error:
        print(f"bench-scale: {error}", file=sys.stderr)
        return 1
    print_table(medians)
    print_profile(parts, sizes[-1])
    print(f"load average after: {load()[0]:.2f}")
    return 0


def print_table(medians: dict[int, dict[str, float]]) -> None:
    print("\nwarm mkdocs build --strict, median of 3 (s)")
    print("| posts | engine | fair (static content) | plain (links) | engine/fair | engine/plain |")
    print("|---|---|---|---|---|---|")
    for count, m in medians.items():
        print(
            f"| {count} | {m['engine']:.1f} | {m['fair']:.1f} | {m['plain']:.1f} "
            f"| {m['engine'] / m['fair']:.2f} | {m['engine'] / m['plain']:.2f} |"
        )
    if len(medians) > 1:
        (small, low), *_, (large, high) = medians.items()
        per_post = {v: (high[v] - low[v]) / (large - small) for v in VARIANTS}
        shown = ", ".join(f"{v} {per_post[v] * 1000:.0f} ms" for v in VARIANTS)
        print(f"per post ({small} to {large} posts): {shown}")
        print(f"per-post ratio engine/fair: {per_post['engine'] / per_post['fair']:.2f}")
    count, largest = list(medians.items())[-1]
    print(f"warm_ratio_fair at {count} posts: {largest['engine'] / largest['fair']:.2f}")


def print_profile(parts: dict[str, dict[str, float]], count: int) -> None:
    print(f"\nwhere a build's time goes at {count} posts (cProfile, one build each; ms per post;")
    print("rows overlap: each is the time inside those functions, whoever called them)")
    print("| part | engine | fair |")
    print("|---|---|---|")
    for label, _ in PROFILE_PARTS:
        engine, fair = parts["engine"][label], parts["fair"][label]
        print(f"| {label} | {engine / count * 1000:.0f} | {fair / count * 1000:.0f} |")


if __name__ == "__main__":
    sys.exit(main())
