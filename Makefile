# make site  - create .venv, install pinned dependencies, build the site into site/
# make test  - same set-up, then run the test suite
# make serve - live-reloading preview at http://127.0.0.1:8000
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Material prints an end-of-life banner on every build; the README covers the migration plan.
export NO_MKDOCS_2_WARNING := 1

.PHONY: site test serve lint clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

site: $(STAMP)
	$(BIN)/mkdocs build --strict

test: $(STAMP)
	$(BIN)/python -m pytest

# MkDocs 1.6.1 loses live reload with click > 8.2.1 unless --livereload is given; pass it anyway.
serve: $(STAMP)
	$(BIN)/mkdocs serve --livereload

lint: $(STAMP)
	$(BIN)/ruff check src hooks tests

clean:
	rm -rf site .cache/locks
