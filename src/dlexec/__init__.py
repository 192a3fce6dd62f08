"""dlexec: execute Keras snippets, cache their results, render them for a static site.

The package knows nothing about MkDocs. Stages, one module each:

- `snippets`  parse a jupytext percent file into named cells and a header;
- `posts`     find snippet embeds and value placeholders in a Markdown post;
- `cache_key` hash what changes a result (source, engine, library versions, data bytes);
- `datasets`  fetch declared data (cache, mirror, or origin + SHA-256), confined to KERAS_HOME;
- `sandbox`   the bubblewrap sandbox and allowlisted environment every kernel starts in;
- `resources` what a run claims (CPUs, GPUs, memory), what the machine has, the ledger;
- `execute`   run one snippet in a fresh, sandboxed Jupyter kernel and return a record;
- `executors` one interface for whoever executes (`pool`: local kernels; `ray_executor`);
- `shards`    split the stale snippets between CI machines;
- `capture`   turn kernel outputs into clean, typed, size-capped result data (`images`);
- `results`   store and load results atomically, with checksums;
- `plots`     draw training curves from captured histories;
- `render`    turn results into Markdown/HTML for a page;
- `pipeline`  decide what to run (BLOG_EXECUTE) and report a summary line;
- `verify`    re-execute changed results and compare them with what was committed.
"""

ENGINE_VERSION = "6"
"""Bump when capture or result format changes: every cache key changes with it."""
