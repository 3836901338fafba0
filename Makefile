# Two entry points (see README): `make demo` runs the main job, `make test` runs the tests.
# Both set everything up on a fresh machine: a virtualenv with the project, and node packages
# for the Cypher linter.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
AS_OF  ?= 2026-11-28

.PHONY: setup demo test lint clean-demo browser

$(STAMP): pyproject.toml
	@echo "==> .venv: creating it and installing canbao with its dependencies (about a minute the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --progress-bar on -e '.[dev]'
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	@echo "==> node_modules: Neo4j's Cypher front end for the query linter"
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP)

# Debian's Chromium and ChromeDriver for the review page's browser tests (root or sudo needed
# once; skipped when already installed).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null; }

# The main job on the embedded default: ingest the committed sample, resolve, derive
# statuses, write the graph, and print the status summary per district.
demo: $(STAMP)
	rm -rf runs/demo
	$(BIN)/canbao run --input data/samples --store runs/demo --as-of $(AS_OF)

# Lint (ruff: pyflakes, pycodestyle, bugbear; rules in pyproject.toml) — also the first step of `make test`.
lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) node_modules/.installed browser lint
	$(BIN)/pytest

clean-demo:
	rm -rf runs/demo
