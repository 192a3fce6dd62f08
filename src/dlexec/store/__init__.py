"""Stage 2, keys and stored results: cache keys, `result.json` and `matrix.json` (held to the
engine's schema when read: they are committed by pull requests), outputs as typed data, and
the pure comparison of a result with its re-run."""
