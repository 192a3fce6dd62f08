"""Commands around the build: the CLI, `make ready`, the pull-request report, the post
scaffold, the outputs diff and `verify-results`."""
