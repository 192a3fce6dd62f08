"""mkdocs-jupyter's converter (nbconvert) imported at its first use, not when MkDocs loads plugins.

MkDocs imports each plugin's module while it reads mkdocs.yml, and mkdocs-jupyter's module
imports its `convert` module, hence nbconvert: about 0.4 s, as nbconvert lists every installed
exporter on import. A build whose notebook pages all come from `.cache/notebook-pages/`
(hooks/notebook_pages.py) converts nothing. mkdocs.yml names `READY` with a `!!python/name:`
tag, which MkDocs resolves while it parses the file, before it loads any plugin: this module
then puts a lazy module (the standard library's `importlib.util.LazyLoader`) in place of
`mkdocs_jupyter.convert`, executed at its first attribute access, that is, at the first
conversion.
"""

from __future__ import annotations

import importlib.util
import sys


def defer(name: str) -> bool:
    """Let the submodule `name` run at its first attribute access. False when it is already
    imported or cannot be found (nothing is deferred then; imports work as usual)."""
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return False
    if spec is None or spec.loader is None:
        return False
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    # The parent's attribute lets `from . import convert` bind the module without loading it.
    # (Not for a top-level module: on Python 3.11 an `import` statement of an already lazy
    # module reads its __spec__, which loads it.)
    setattr(sys.modules[parent], child, module)
    return True


READY = defer("mkdocs_jupyter.convert")
