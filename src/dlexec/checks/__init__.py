"""Stage 7, claims: each post's `expect:` held against every recorded backend and seed."""
