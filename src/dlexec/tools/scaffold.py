"""What a contributor's make targets need beyond the engine.

- `make new-post TITLE="..."`: a dated post with front matter and one starter snippet that runs.
  Its `description` is a placeholder anyone can recognise (`PLACEHOLDER_DESCRIPTION`), and
  `placeholder_description_warnings` names the posts that still carry it, for a build to warn.
- `make serve`: `serve_url`, the address MkDocs serves at (the path of mkdocs.yml's site_url).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from ..config import EngineConfig
from ..errors import AuthoringError, Location
from ..sources.posts import PostDocument, front_matter_nodes, read_post
from ..sources.site import mkdocs_settings

# The description a scaffolded post starts with. It is the page's meta description (what search
# engines and link previews show): placeholder_description_warnings names the posts that still
# carry it, for the build hook to log as warnings, which fail `mkdocs build --strict` (CI).
DESCRIPTION_MARKER = "REPLACE ME"
PLACEHOLDER_DESCRIPTION = (
    f"{DESCRIPTION_MARKER}: one sentence that says what the reader will learn."
)
# What earlier versions of the scaffold wrote: posts made with them are caught too.
OLD_PLACEHOLDER_DESCRIPTIONS = ("One sentence that says what the reader will learn.",)

POST = """---
date: {date}
authors: [editor]
slug: {slug}
categories:
  - Foundations
tags:
  - keras
description: {description}
# Claims the results must keep (checked by `make test`): the result against a baseline the run
# computed, and a headline number. Replace them with your post's own.
expect:
  {name}.test_accuracy:
    - "> {name}.majority_accuracy"
    - ">= 0.9"
---

# {title}

The introduction: what this post is about and why it matters. It is the excerpt shown on the
blog index, up to the marker below.

<!-- more -->

## A first model

Each code block is a snippet embedded by a link on its own line; the build runs it and shows
its output, and a training-curve plot for every `model.fit`:

[Train a small classifier](../snippets/{name}.py#train)

Numbers in the text come from the run: the model classifies
{{{{ {name}.test_accuracy:.1% }}}} of the {{{{ {name}.n_test }}}} test points correctly, where
always guessing the commoner class would be right {{{{ {name}.majority_accuracy:.1% }}}} of the
time.
"""

SNIPPET = """# %% train
import keras
import numpy as np
from keras import layers

keras.utils.set_random_seed(0)

# Two clouds of points, one per class (replace with real data: see CONTRIBUTING.md).
rng = np.random.default_rng(0)
points = np.concatenate([rng.normal(-1, 0.7, (200, 2)), rng.normal(1, 0.7, (200, 2))])
labels = np.array([0] * 200 + [1] * 200)
order = rng.permutation(len(points))
x_train, y_train = points[order[:300]], labels[order[:300]]
x_test, y_test = points[order[300:]], labels[order[300:]]
n_test = len(x_test)
# The baseline the post's claim compares with: always guessing the commoner class.
majority_accuracy = float(max(y_test.mean(), 1 - y_test.mean()))

model = keras.Sequential(
    [
        keras.Input(shape=(2,)),
        layers.Dense(8, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ]
)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=20, batch_size=32, validation_split=0.2, verbose=2)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"Test accuracy: {test_accuracy:.3f}")
"""


def slugify(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    if not slug:
        raise AuthoringError(f"the title {title!r} has no letters or digits to make a slug from")
    return slug


def new_post(config: EngineConfig, title: str, today: date | None = None) -> tuple[Path, Path]:
    """Write posts/<slug>.md and snippets/<slug>.py; refuse to overwrite anything."""
    slug = slugify(title)
    name = slug.replace("-", "_")
    post = config.posts_dir / f"{slug}.md"
    snippet = config.snippets_dir / f"{name}.py"
    for path in (post, snippet):
        if path.exists():
            raise AuthoringError("already exists; choose another title", Location(path))
    day = (today or date.today()).isoformat()
    # JSON's quoted string is YAML too: the placeholder's ": " cannot break the front matter.
    description = json.dumps(PLACEHOLDER_DESCRIPTION)
    text = POST.format(date=day, slug=slug, title=title, name=name, description=description)
    post.write_text(text, encoding="utf-8")
    snippet.write_text(SNIPPET, encoding="utf-8")
    return post, snippet


def is_placeholder_description(description: object) -> bool:
    """Whether a front matter `description` is (still) one the scaffold wrote."""
    if not isinstance(description, str):
        return False
    text = description.strip()
    return text.startswith(DESCRIPTION_MARKER) or text in OLD_PLACEHOLDER_DESCRIPTIONS


def placeholder_description_warnings(posts_dir: Path, root: Path | None = None) -> list[str]:
    """One warning per post in `posts_dir` whose `description` is still the scaffold's
    placeholder, as `posts/x.md:LINE: ...` (paths relative to `root`, by default the folder
    that holds `posts_dir`). Posts whose front matter cannot be read are left to the errors
    the engine reports for them."""
    documents = []
    for post in sorted(posts_dir.glob("*.md")):
        try:
            meta, nodes = front_matter_nodes(read_post(post), post)
        except AuthoringError:
            continue
        documents.append(PostDocument(post, (), (), meta=meta, nodes=nodes))
    return description_warnings(documents, root or posts_dir.parent)


def description_warnings(documents: Iterable[PostDocument], root: Path) -> list[str]:
    """The warnings of `placeholder_description_warnings` for posts a build has read."""
    root = root.resolve()
    warnings = []
    for document in sorted(documents, key=lambda document: document.post):
        if not is_placeholder_description(document.meta.get("description")):
            continue
        line = document.nodes["description"][0].start_mark.line + 2  # YAML line n: file n + 2
        try:
            shown = document.post.resolve().relative_to(root)
        except ValueError:
            shown = document.post
        warnings.append(
            f"{Location(shown, line)}: `description` is still the placeholder that "
            "`make new-post` wrote; replace it with one sentence that says what the reader "
            "will learn (search engines and link previews show it)"
        )
    return warnings


def serve_url(addr: str, port: int | str, root: Path | None = None) -> str:
    """Where `mkdocs serve --dev-addr ADDR:PORT` serves the site: MkDocs mounts it at the path
    of `site_url` (`/deep-learning-executed/`), and answers `/` only with a redirect there."""
    site_url = mkdocs_settings(root or Path.cwd()).get("site_url") or "/"
    path = ("/" + urlsplit(str(site_url)).path.lstrip("/")).rstrip("/") + "/"  # as MkDocs does
    return f"http://{addr}:{port}{path}"
