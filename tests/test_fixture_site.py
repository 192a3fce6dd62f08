"""End to end: the tiny fixture site built by `mkdocs build` with the real hook and real kernels.

The first build, which executes tiny.py, is made once per test run (`built_fixture_site`); a test
that starts from a built blog works on a copy of it (`built_site_project`)."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest
from conftest import BuiltFixtureSite, forge_result, mkdocs_build

pytestmark = [pytest.mark.build, pytest.mark.kernel]

SUMMARY = re.compile(r"snippets: (\d+) executed, (\d+) reused, (\d+) failed in [\d.]+ s")


def summary(log: str) -> tuple[int, int, int]:
    lines = [line for line in log.splitlines() if SUMMARY.search(line)]
    assert len(lines) == 1, f"expected exactly one summary line in:\n{log}"
    return tuple(int(n) for n in SUMMARY.search(lines[0]).groups())


def post_html(project: Path) -> str:
    [page] = (project / "site").glob("2026/01/01/*/index.html")
    return page.read_text()


def test_build_executes_then_reuses_and_shows_outputs(built_fixture_site: BuiltFixtureSite):
    first, site_project = built_fixture_site.first, built_fixture_site.project
    assert first.returncode == 0, first.stderr
    assert summary(first.stderr) == (1, 0, 0)
    html = post_html(site_project)
    assert "samples: 64 &lt;b&gt;not bold&lt;/b&gt;" in html  # printed output, escaped
    assert "The model saw 64 samples." in html  # placeholder bound to the run
    assert re.search(r"Epoch 3/3\n3/3 ━+ [^\n]*val_loss[^\n]*\n</code>", html)  # final state
    assert "\x1b[" not in html and "\x08" not in html
    assert "absl::InitializeLog" not in html
    # One panel per metric, each in the light and the dark palette.
    curves = re.findall(r'<img src="([^"]+curves-[0-9a-f]+-\d+-(light|dark)\.svg)#only-\2"', html)
    palettes = [palette for _, palette in curves]
    assert curves and palettes.count("light") == palettes.count("dark")
    for src, _ in curves:
        assert (site_project / "site" / "2026/01/01/a-tiny-post" / src).resolve().is_file()
    assert re.search(
        r"Ran on CPU \(\d+ cores?\) · \d+ math threads?, deterministic ops on · TensorFlow [\d.]+ · "
        r"Keras [\d.]+ · [\d.]+ s · \d{4}-\d\d-\d\d",
        html,
    )

    second = built_fixture_site.second  # BLOG_EXECUTE=never, after the first
    assert second.returncode == 0, second.stderr
    assert summary(second.stderr) == (0, 1, 0)


def test_changed_snippet_reexecutes_once_and_never_mode_rejects_stale(built_site_project: Path):
    site_project = built_site_project
    snippet = site_project / "snippets" / "tiny.py"
    snippet.write_text(snippet.read_text().replace("epochs=3", "epochs=2"))
    stale = mkdocs_build(site_project, "never")
    assert stale.returncode != 0
    assert "snippets/tiny.py" in stale.stderr and "is stale" in stale.stderr
    rerun = mkdocs_build(site_project)
    assert rerun.returncode == 0, rerun.stderr
    assert summary(rerun.stderr) == (1, 0, 0)
    assert "Epoch 2/2" in post_html(site_project) and "Epoch 3/3" not in post_html(site_project)


def test_raising_snippet_fails_build_with_post_snippet_and_line(site_project: Path):
    snippet = site_project / "snippets" / "tiny.py"
    snippet.write_text(snippet.read_text().replace('print("samples:"', 'print(1 / 0, "samples:"'))
    failed = mkdocs_build(site_project)
    assert failed.returncode != 0
    assert summary(failed.stderr) == (0, 0, 1)
    assert (
        "snippets/tiny.py:9: snippet failed: ZeroDivisionError: division by zero" in failed.stderr
    )
    assert "used at" in failed.stderr and "posts/tiny.md:10" in failed.stderr
    assert "Traceback" in failed.stderr or "----> 9" in failed.stderr
    assert not (
        site_project / "results" / "tiny" / "result.json"
    ).exists()  # failures are not cached


def test_missing_cell_fails_build_with_post_and_line(built_site_project: Path):
    site_project = built_site_project
    post = site_project / "posts" / "tiny.md"
    post.write_text(post.read_text().replace("tiny.py#train", "tiny.py#trian"))
    failed = mkdocs_build(site_project)
    assert failed.returncode != 0
    assert (
        "posts/tiny.md:14: snippet tiny.py has no cell named 'trian' (its cells: data, train)"
        in failed.stderr
    )


def test_always_mode_reexecutes(built_site_project: Path):
    site_project = built_site_project
    again = mkdocs_build(site_project, "always")
    assert again.returncode == 0, again.stderr
    assert summary(again.stderr) == (1, 0, 0)


def test_reverted_edit_reuses_the_earlier_run(built_site_project: Path):
    site_project = built_site_project
    snippet = site_project / "snippets" / "tiny.py"
    original = snippet.read_text()
    snippet.write_text(original.replace("epochs=3", "epochs=2"))
    assert summary(mkdocs_build(site_project).stderr) == (1, 0, 0)
    snippet.write_text(original)
    reverted = mkdocs_build(site_project)
    assert summary(reverted.stderr) == (0, 1, 0)
    assert "Epoch 3/3" in post_html(site_project)
    assert mkdocs_build(site_project, "never").returncode == 0  # results/ holds the original again


def test_corrupted_result_is_an_error_in_never_and_stale_in_auto(built_site_project: Path):
    site_project = built_site_project
    result = site_project / "results" / "tiny" / "result.json"
    result.write_text(result.read_text()[:-200])  # truncated, as after a crash or a bad merge
    shutil.rmtree(site_project / ".cache" / "results")  # no earlier copy to restore from
    never = mkdocs_build(site_project, "never")
    assert never.returncode != 0
    assert "snippets/tiny.py: the committed result is corrupted" in never.stderr
    auto = mkdocs_build(site_project)
    assert auto.returncode == 0, auto.stderr
    assert summary(auto.stderr) == (1, 0, 0)
    assert "result is corrupted, treating it as stale" in auto.stderr


def _host_file_in(site: Path, host_file: Path) -> list[Path]:
    content = host_file.read_bytes()
    return [p for p in site.rglob("*") if p.is_file() and content in p.read_bytes()]


def test_a_forged_result_publishes_no_host_file(built_site_project: Path):
    """The deploy workflow's `never` build with a hostile pull request's result: a figure named
    by an absolute path, and a curve file replaced by a symlink to a host file, each with a
    recomputed checksum. The build names the result and publishes neither."""
    project, host_file = built_site_project, Path("/etc/passwd")
    folder = project / "results" / "tiny"
    host_sha = hashlib.sha256(host_file.read_bytes()).hexdigest()
    [curve] = sorted(folder.glob("curves-*-0-light.svg"))

    def forge(document: dict) -> None:
        document["files"][str(host_file)] = host_sha
        image = {"type": "image", "file": str(host_file), "mime": "image/png"}
        document["cells"][0]["outputs"].append({**image, "width": None, "height": None})
        document["files"][curve.name] = host_sha

    curve.unlink()
    curve.symlink_to(host_file)
    forge_result(folder, forge)
    shutil.rmtree(project / "site")
    never = mkdocs_build(project, "never")
    assert never.returncode != 0
    assert "snippets/tiny.py: the committed result is corrupted" in never.stderr
    assert _host_file_in(project / "site", host_file) == []


def test_a_committed_symlink_out_of_the_project_is_refused(built_site_project: Path):
    """MkDocs copies a docs file by following its link: `docs/notes.txt -> /etc/passwd`
    published the build machine's file. The build now names every such link and fails."""
    project, host_file = built_site_project, Path("/etc/passwd")
    token = project / ".git" / "config"  # where actions/checkout keeps CI's token
    token.parent.mkdir()
    token.write_text('[http]\n\textraheader = "AUTHORIZATION: basic c2VjcmV0"\n')
    links = {
        "docs/notes.txt": host_file,
        "posts/notes.md": host_file,
        "docs/img/figure.png": host_file,
        "docs/config.txt": token,
    }
    for link, target in links.items():
        (project / link).parent.mkdir(parents=True, exist_ok=True)
        (project / link).symlink_to(target)
    shutil.rmtree(project / "site")
    built = mkdocs_build(project, "never")
    assert built.returncode != 0
    for link in links:
        assert f"{link}: a symlink to a file outside the project; it is not published" in (
            built.stderr
        )
    assert _host_file_in(project / "site", host_file) == []
    assert _host_file_in(project / "site", token) == []


def test_unknown_placeholder_value_fails_with_post_and_line(built_site_project: Path):
    site_project = built_site_project
    post = site_project / "posts" / "tiny.md"
    post.write_text(post.read_text().replace("tiny.n_samples:,", "tiny.n_sample:,"))
    failed = mkdocs_build(site_project)
    assert failed.returncode != 0
    assert re.search(
        r"posts/tiny\.md:12: placeholder \{\{ tiny\.n_sample:, \}\}: snippet 'tiny' has no value "
        r"'n_sample' \(its values: .*n_samples",
        failed.stderr,
    )


@pytest.mark.parametrize(
    ("file", "old", "new", "shown"),
    [
        (
            "snippets/tiny.py",
            "# %% data\n",
            "# ---\n# timeout: 2\n# ---\n# %% data\nwhile True:\n    pass\n",
            "snippets/tiny.py:5: snippet failed: did not finish within its time limit of 2 s",
        ),
        (
            "snippets/tiny.py",
            "# %% data\n",
            "# %% data\nimport os\nos._exit(7)\n",
            "the kernel process exited with code 7",
        ),
        (
            "posts/tiny.md",
            "date: 2026-01-01",
            "date: [2026",
            "posts/tiny.md:2: malformed front matter",
        ),
        (
            "snippets/tiny.py",
            "# %% data\n",
            "# ---\n# timeout: .inf\n# ---\n# %% data\n",
            "snippets/tiny.py:2: snippet header 'timeout'",
        ),
        (
            "posts/tiny.md",
            "tiny.n_samples:,",
            "tiny.n_samples:>100000000",
            "posts/tiny.md:12: placeholder {{ tiny.n_samples:>100000000 }}: format width "
            "100000000 is more than 100",
        ),
        (
            "snippets/tiny.py",
            "# %% data\n",
            "# ---\n# resources: {cpus: 1000}\n# ---\n# %% data\n",
            "snippets/tiny.py: `resources: cpus` claims 1000 CPUs; this machine has",
        ),
        (
            "posts/tiny.md",
            "# A tiny post",
            "# A tiny post \xff",
            "posts/tiny.md:4: the post is not UTF-8 text: byte 0xff at byte offset",
        ),
        (  # the blog plugin itself crashed on this one (KeyError: 'created')
            "posts/tiny.md",
            "date: 2026-01-01",
            "date:\n  updated: 2026-01-01",
            "posts/tiny.md:2: front matter: `date` needs a `created:` date when it is a mapping",
        ),
        (
            "posts/tiny.md",
            "date: 2026-01-01",
            "date: 2026-01-01\nreadtime: five",
            "posts/tiny.md:3: front matter: `readtime` must be a whole number",
        ),
    ],
    ids=[
        "timeout",
        "dies",
        "front-matter",
        "infinite-timeout",
        "huge-width",
        "cpus",
        "not-utf8",
        "no-created-date",
        "readtime-word",
    ],
)
def test_strict_build_fails_on_every_breakage_serve_survives(
    built_site_project: Path, file: str, old: str, new: str, shown: str
):
    site_project = built_site_project
    path = site_project / file
    content = path.read_text().replace(old, new, 1)  # "\xff" below is a raw byte, not "ÿ"
    path.write_bytes(content.encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff"))
    built = mkdocs_build(site_project)
    assert built.returncode != 0
    assert shown in built.stderr
    assert "Traceback (most recent call last)" not in built.stderr  # an error, not a crash


def test_a_bad_blog_execute_is_one_line_not_a_traceback(site_project: Path):
    """Issue 23: BLOG_EXECUTE=sometimes printed a 39-line traceback before its one good line."""
    built = mkdocs_build(site_project, "sometimes")
    assert built.returncode != 0
    assert "BLOG_EXECUTE='sometimes' is not one of auto, never, always" in built.stderr
    assert "Traceback" not in built.stderr


COUNT_POST_READS = """
import atexit, json, sys
from pathlib import Path

posts, out = str(Path("posts").resolve()), sys.argv.pop()
ours = tuple(str(Path(folder).resolve()) for folder in sys.argv.pop().split(","))
reads = {}


def count(event, args):
    path = str(args[0]) if event == "open" and args else ""
    if not (path.startswith(posts) and path.endswith(".md")):
        return
    frame = sys._getframe(1)
    while frame is not None and not frame.f_code.co_filename.startswith(ours):
        frame = frame.f_back
    if frame is not None:  # opened by the engine or the hooks, not by MkDocs or the blog
        reads[Path(path).name] = reads.get(Path(path).name, 0) + 1


sys.addaudithook(count)
atexit.register(lambda: Path(out).write_text(json.dumps(reads)))
from mkdocs.__main__ import cli

sys.argv = ["mkdocs", "build", "--strict"]
cli()
"""


def test_a_build_reads_each_post_once(built_site_project: Path, tmp_path: Path):
    """Every stage reads the post the build parsed (PostDocument): its file is opened once by
    the engine and the hooks together, whatever reads its front matter, claims or body."""
    import json
    import os
    import subprocess
    import sys

    from conftest import REPO

    project = built_site_project
    (project / "posts" / "second.md").write_text(
        "---\ndate: 2026-01-02\ndescription: A second post.\n---\n# Second\n\n"
        "Also {{ tiny.n_samples }} samples.\n\n<!-- more -->\n\n[Data](../snippets/tiny.py#data)\n"
    )
    reads = tmp_path / "reads.json"
    ours = f"{REPO / 'src' / 'dlexec'},{REPO / 'hooks'}"
    env = {**os.environ, "BLOG_EXECUTE": "auto", "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run(
        [sys.executable, "-c", COUNT_POST_READS, ours, str(reads)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert json.loads(reads.read_text()) == {"tiny.md": 1, "second.md": 1}
