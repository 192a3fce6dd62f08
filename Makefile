# make site  - create .venv, install pinned dependencies, build the site into site/
# make test  - same set-up, then run the fast tier of the tests (a few minutes, every core)
# make test-all - every test, as CI runs them (.ci/run)
# make test-bench - wall time, CPU use and slowest tests of each tier (benchmarks/suite.py)
# make serve - live-reloading preview at the address it prints first, by default
#              http://127.0.0.1:8000/deep-learning-executed/ (PORT=8001, ADDR=0.0.0.0 move it)
# make verify-results REF=origin/main - re-execute results changed since REF, fail if not reproduced
# make pr-report REF=origin/main - the pull-request report CI writes to its job summary (Markdown)
# make ready REF=origin/main - what a pull request is checked for, in order; what to do per failure
# make bench - build times with and without the engine, side by side (benchmarks/bench.py)
# make bench-scale - warm builds at 6/60/200 posts, engine vs the same pages static (scale.py)
# make bench-serve - a prose edit under serve at 200 posts, save to page (serve_edit.py)
# make verify - every snippet on TensorFlow, JAX and PyTorch and with more seeds; check claims
#   (VERIFY_ARGS="--recheck origin/main": re-run the matrix records changed since that ref)
# make lighthouse - Lighthouse scores of two posts, phone and desktop, against targets (npm)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BACKENDS_STAMP := $(VENV)/.installed-backends
# Where pip finds PyTorch's CPU build, e.g. https://download.pytorch.org/whl/cpu (empty: the
# configured indexes; the registry's Linux wheel then brings several GB of CUDA libraries).
TORCH_INDEX ?=
# Material prints an end-of-life banner on every build; the README covers the migration plan.
export NO_MKDOCS_2_WARNING := 1

.PHONY: site test test-all test-bench serve lint check verify outputs-diff verify-results new-post bench bench-scale bench-serve bench-shards bench-schedule clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

site: $(STAMP)
	$(BIN)/mkdocs build --strict

# Tests run on every core (pytest-xdist; TEST_WORKERS=0 runs them in one process); a module's
# tests stay on one worker, so its module-scoped fixtures are built once. The tiers are chosen
# by marker (tests/conftest.py, pyproject.toml): `--tier fast` leaves out the tests marked
# kernel, build, browser, ray or slow, but for the smoke set; test-all runs everything.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope
test: $(STAMP)
	$(PYTEST) --tier fast

test-all: $(STAMP)
	$(PYTEST) --tier all --durations=20

# Each tier timed side by side in one run: wall time, CPU use, the 15 slowest tests.
test-bench: $(STAMP)
	$(BIN)/python benchmarks/suite.py

# MkDocs serves under the path of mkdocs.yml's site_url (/deep-learning-executed/), not at /
# (it redirects / there); the first line is the address. `make serve PORT=8001` moves it.
# MkDocs 1.6.1 loses live reload with click > 8.2.1 unless --livereload is given; pass it anyway.
ADDR ?= 127.0.0.1
PORT ?= 8000
serve: $(STAMP)
	@$(BIN)/python -c 'import dlexec.tools.scaffold as s; print("serving at", s.serve_url("$(ADDR)", "$(PORT)"))'
	$(BIN)/mkdocs serve --livereload --dev-addr $(ADDR):$(PORT)

# Hold every post's claims (front matter `expect:`) against the committed results, on every
# backend and seed that `make verify` recorded.
check: $(STAMP)
	$(BIN)/python -m dlexec check

$(BACKENDS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c requirements.lock \
		$(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) -e '.[dev,backends]'
	touch $(BACKENDS_STAMP)

# Bring results up to date, run every snippet on JAX and PyTorch and each claimed one with more
# seeds (only what changed), store them in results/*/matrix.json, then check every claim.
verify: $(BACKENDS_STAMP)
	$(BIN)/python -m dlexec verify $(VERIFY_ARGS)

# Which snippets' results changed since REF (default origin/main), why, and how.
REF ?= origin/main
outputs-diff: $(STAMP)
	$(BIN)/python -m dlexec diff $(REF)

# Re-execute every snippet whose committed result changed since REF (into a temporary folder;
# results/ is not touched) and fail if a committed result is not what its snippet produces.
verify-results: $(STAMP)
	$(BIN)/python -m dlexec verify-results $(REF)

# The report a reviewer acts on, in Markdown: snippets whose results changed since REF and how
# long their runs took, values before → after, every claim's values, sandbox status, the built
# site. The pull-request workflow appends it to its job summary. `@`: stdout is the report only.
.PHONY: pr-report ready
pr-report: $(STAMP)
	@$(BIN)/python -m dlexec pr-report $(REF)

# A contributor's checklist, in the order a pull request meets it, each item run even after one
# failed: format and lint at 88 columns of the snippets changed since REF, fresh results and
# notebooks (what a BLOG_EXECUTE=never build checks), claims, the fast tests (src/dlexec/tools/ready.py
# lists them); then one line per item, PASS or FAIL with what to do.
ready: $(STAMP)
	$(BIN)/python -m dlexec ready $(REF)

# make new-post TITLE="My post": a dated post in posts/ and a starter snippet in snippets/.
new-post: $(STAMP)
	@test -n "$(TITLE)" || { echo 'usage: make new-post TITLE="Title of the post"'; exit 2; }
	$(BIN)/python -m dlexec new-post "$(TITLE)"

# Cold and warm build times against plain `python snippet.py` and MkDocs without the engine,
# BLOG_JOBS speed-up and peak memory, measured side by side in one run (several minutes).
# BENCH_QUICK=1 trains 1 epoch on 1,000 images: checks the script, not the engine.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# Warm builds of the real site grown to 6, 60 and 200 posts, with the engine, with the same
# content pasted in as static Markdown ("fair") and with embeds left as links; per-post cost and
# a profile of where each build's time goes (about 15 minutes). SIZES="6 60" picks others.
SIZES ?= 6 60 200
bench-scale: $(STAMP)
	$(BIN)/python benchmarks/scale.py $(SIZES)

# A one-word prose edit under `make serve` at 200 posts: seconds from the save to the served
# page (3 edits; the site grown by bench-scale, or grown first). N=60 picks another size.
N ?= 200
bench-serve: $(STAMP)
	$(BIN)/python benchmarks/serve_edit.py $(N)

# How `prepare --shard I/N` balances its shares (makespan against the ideal), for this blog's
# committed run times and 100 synthetic long-tailed ones; reads results, runs nothing.
bench-shards: $(STAMP)
	$(BIN)/python benchmarks/shards.py 2 4 8

# 100 synthetic snippets with CPU/GPU claims, as sleeping Ray tasks on a local Ray with 4
# logical GPUs and 16 CPUs, in the engine's run order: makespan against a lower bound (a minute).
bench-schedule: $(STAMP)
	$(BIN)/python benchmarks/ray_schedule.py

lint: $(STAMP)
	$(BIN)/ruff check src hooks tests benchmarks

clean:
	rm -rf site .cache/locks

# Lighthouse (pinned in lighthouse/package-lock.json) on Debian's Chromium against the freshly
# built site, served with gzip on localhost; fails when a score misses its target. Needs Node.js
# and npm, so it is not part of `make test`.
CHROME_PATH ?= /usr/bin/chromium
LIGHTHOUSE_STAMP := lighthouse/node_modules/.installed

$(LIGHTHOUSE_STAMP): lighthouse/package.json lighthouse/package-lock.json
	cd lighthouse && npm ci --no-audit --no-fund
	touch $(LIGHTHOUSE_STAMP)

.PHONY: lighthouse
lighthouse: site $(LIGHTHOUSE_STAMP)
	CHROME_PATH=$(CHROME_PATH) $(BIN)/python lighthouse/audit.py site
