"""dlexec: execute Keras snippets, cache their results, render them for a static site.

The package knows nothing about MkDocs. Stages, one module each:

- `snippets`  parse a jupytext percent file into named cells and a header;
- `posts`     find snippet embeds and value placeholders in a Markdown post;
- `cache_key` hash what changes a result (source, engine, library versions, data bytes);
- `datasets`  seed the Keras cache from an offline mirror;
- `execute`   run one snippet in a fresh Jupyter kernel and return a record;
- `capture`   turn kernel outputs into clean, typed result data;
- `results`   store and load results atomically, with checksums;
- `plots`     draw training curves from captured histories;
- `render`    turn results into Markdown/HTML for a page;
- `pipeline`  decide what to run (BLOG_EXECUTE) and report a summary line.
"""

ENGINE_VERSION = "5"
"""Bump when capture or result format changes: every cache key changes with it."""
