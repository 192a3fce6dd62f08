"""dlexec: execute Keras snippets, cache their results, render them for a static site.

One package per stage; a stage imports from the stages below it, never from those above
(`tests/test_architecture.py` holds the code to it, README "Architecture" draws it):

- the base: `errors`, `config` (validated settings and BLOG_* variables), `files`, `git`,
  `versions`, `backends` (names and variants), `limits`, `progress` (terminal lines);
- `sources`  what authors write: snippets and headers, posts, claims, data, placeholders;
- `store`    cache keys, `result.json` and `matrix.json` (untrusted when read), comparison;
- `capture`  kernel messages to typed outputs: text, figures, curves (`_kernel` runs inside);
- `run`      the executor interface and factory, local pool, Ray, kernel, sandbox, resources;
- `build`    what runs and when (freshness, locks, shards), the build report, `make verify`;
- `present`  page content and notebooks, from the report;
- `checks`   claims held against every backend and seed;
- `tools`    the CLI, `make ready`, the PR report, the scaffold, outputs diff, verify-results;
- `adapter`  what only MkDocs needs (page cache, lazy converter); hooks/ wires its events.

Nothing below `adapter` imports MkDocs.
"""

ENGINE_VERSION = "6"
"""Bump when capture or result format changes: every cache key changes with it."""
