"""Stage 5, orchestration: which snippets run (freshness, locks, shards), running them on an
executor, and the report every later stage reads; `matrix` does the same for `make verify`."""
