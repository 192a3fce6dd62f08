"""Builds as `mkdocs serve` makes them, one process each (tests/test_quick_rebuild.py runs it).

python tests/serve_builds.py full PROJECT SITE
    one serve build (MkDocs' first build under `mkdocs serve`) of PROJECT into SITE
python tests/serve_builds.py edits PROJECT SITE EDITS.json
    the first serve build, then for each edit (file, old text, new text) the edit and
    the rebuild serve would run (the adapter's builder in place of MkDocs'); prints, per
    edit, JSON {"full_builds": n}: how many full builds that rebuild ran. An edit with a
    fourth item, a folder, has the site copied there after its rebuild.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from mkdocs.commands.build import build
from mkdocs.config import load_config

SERVE_URL = "http://127.0.0.1:8000/deep-learning-executed/"
HOOK = "hooks/executed_snippets.py"


class Server:
    """What the plugins' on_serve use of MkDocs' LiveReloadServer."""

    def __init__(self, builder) -> None:
        self.builder = builder
        self.observer = self

    def watch(self, path: str, recursive: bool = True) -> None:
        pass

    def schedule(self, handler, path: str, recursive: bool) -> None:
        pass


def serve_build(project: Path, site: Path) -> None:
    """MkDocs' serve builder: the configuration loaded again, the site URL the server's."""
    config = load_config(str(project / "mkdocs.yml"), site_dir=str(site))
    config.site_url = SERVE_URL
    build(config, serve_url=SERVE_URL)


def main(mode: str, project: Path, site: Path, edits: Path | None = None) -> None:
    config = load_config(str(project / "mkdocs.yml"), site_dir=str(site))
    config.plugins.on_startup(command="serve", dirty=False)
    serve_build(project, site)
    if mode == "full":
        return
    full_builds = []

    def full() -> None:  # counted, not run: a test reads the site a quick rebuild left
        full_builds.append(1)

    server = Server(full)
    config.plugins.on_serve(server, config=config, builder=full)  # every plugin, as MkDocs
    for name, old, new, *copy in json.loads(edits.read_text()):
        path = project / name
        text = path.read_text()
        assert old in text, f"{name} has no {old!r}"
        path.write_text(text.replace(old, new, 1))
        before = len(full_builds)
        server.builder()
        print(json.dumps({"full_builds": len(full_builds) - before}), flush=True)
        if copy:
            shutil.copytree(site, copy[0])


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), *map(Path, sys.argv[4:]))
