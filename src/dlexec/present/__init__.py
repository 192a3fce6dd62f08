"""Stage 6, page content and notebooks, from the build report: escaped markup, figures,
curves, the backend and seed table, post and run notebooks."""
