"""mkdocs-jupyter's heavy imports (nbconvert, jupytext) run at their first use, not when MkDocs
loads plugins.

MkDocs imports each plugin's module while it reads mkdocs.yml, and mkdocs-jupyter's module
imports jupytext (about 0.2 s: jupytext imports nbformat, jsonschema, jupyter_client, tornado)
and its `convert` module, hence nbconvert (about 0.4 s: it lists every installed exporter). A
build whose notebook pages all come from `.cache/notebook-pages/` (hooks/notebook_pages.py)
converts nothing and reads no notebook with jupytext. mkdocs.yml names `READY` with a
`!!python/name:` tag, which MkDocs resolves while it parses the file, before it loads any
plugin: this module then puts a stand-in in `sys.modules` for each deferred module, and the
stand-in runs the real module at its first attribute access.

Not the standard library's `importlib.util.LazyLoader`: on Python 3.11 an `import` statement of
a module already in `sys.modules` reads its `__spec__`, and a LazyLoader module loads on any
attribute read, so `import jupytext` would load it at once. The stand-in holds the real spec
itself and loads on the first attribute it lacks.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

DEFERRED = ("jupytext", "mkdocs_jupyter.convert")
_loading = threading.Lock()  # snippets may be parsed (with jupytext) on several threads


class DeferredModule(ModuleType):
    """Stands in `sys.modules` for a module that has not run yet. The first attribute it lacks
    (anything but its name and spec) imports the real module, which then replaces it."""

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._real_module(), attribute)

    def _real_module(self) -> ModuleType:
        name = self.__spec__.name
        with _loading:
            real = sys.modules.get(name)
            if real is None or real is self:
                sys.modules.pop(name, None)
                real = importlib.import_module(name)
            # Later reads through this stand-in (a module that imported it keeps it) find it all.
            vars(self).update(vars(real))
        return real


def defer(name: str) -> bool:
    """Put a stand-in for the module `name` in `sys.modules`. False when it is already imported
    or cannot be found (nothing is deferred then; imports work as usual)."""
    if name in sys.modules:
        return False
    parent, _, child = name.rpartition(".")
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return False
    if spec is None:
        return False
    stand_in = DeferredModule(name)
    stand_in.__spec__ = spec
    sys.modules[name] = stand_in
    if parent:  # so that `from . import convert` binds the stand-in without loading it
        setattr(sys.modules[parent], child, stand_in)
    return True


READY = [name for name in DEFERRED if defer(name)]
