# jobplan — the two quick-start commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test lint typecheck pytest bench system-deps screenshots clean

# Installs the project into .venv (re-run when pyproject.toml changes) and starts the server
# on the embedded default: SQLite in ./var (or $JOBPLAN_HOME), http://127.0.0.1:8080.
run: $(VENV)/.installed-run
	$(BIN)/jobplan serve

# Installs what the tests need (dev extras, Debian packages such as PostgreSQL) and runs
# ruff, mypy --strict on src/ and the whole pytest suite. .ci/run calls this.
test: $(VENV)/.installed-dev system-deps lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy src

# One worker per CPU (pytest-xdist); a test file's tests stay on one worker, so module-scoped
# fixtures (a server, a browser) start once. tests/README.md: keeping tests fast and xdist-safe.
pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -n auto --dist loadfile

# Every benchmark, one after another (docs/performance.md records their figures). A new one is
# a bench/<name>.py added to BENCHES; `make bench BENCHES="scheduler_bench postgres_bench"` runs
# some. postgres_bench starts its own PostgreSQL cluster (system-deps installs it).
# history_bench seeds 10M job runs (about 4 GB in /tmp, several minutes);
# `make bench BENCH_FLAGS=--quick` runs every benchmark that has a quick mode in it instead.
BENCHES ?= cron_bench scheduler_bench sqlite_ceiling postgres_bench bundle_bench import_memory \
	console_bench agent_bench plan_size_bench api_bench scale_bench history_bench
BENCH_FLAGS ?=
bench: $(VENV)/.installed-dev system-deps
	@set -e; for name in $(BENCHES); do \
		echo "== bench/$$name.py"; \
		if [ -n "$(BENCH_FLAGS)" ] && grep -q -- "$(BENCH_FLAGS)" bench/$$name.py; then \
			$(BIN)/python bench/$$name.py $(BENCH_FLAGS); \
		else $(BIN)/python bench/$$name.py; fi; \
	done

# Retakes the README's console screenshots (docs/images) from a throwaway server.
screenshots: $(VENV)/.installed-dev system-deps
	$(BIN)/python scripts/console_screenshots.py

system-deps:
	bash scripts/install-system-deps.sh

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[dev]'
	touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
