"""`make new-post TITLE="..."`: a dated post with front matter and one starter snippet that runs."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from .config import EngineConfig
from .errors import AuthoringError, Location

POST = """---
date: {date}
authors: [editor]
slug: {slug}
categories:
  - Foundations
tags:
  - keras
description: One sentence that says what the reader will learn.
# Claims the results must keep (checked by `make test`); add your post's headline numbers.
expect:
  {name}.test_accuracy: ">= 0.9"
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
{{{{ {name}.test_accuracy:.1% }}}} of the {{{{ {name}.n_test }}}} test points correctly.
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
    post.write_text(POST.format(date=day, slug=slug, title=title, name=name), encoding="utf-8")
    snippet.write_text(SNIPPET, encoding="utf-8")
    return post, snippet
