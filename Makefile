# Two commands on a fresh machine: `make run` (the main job) and `make test` (the whole suite).
# Both create the virtualenv on first use, pinned by constraints.txt: gan_core, the server
# (the `server` extra) and the test tools (`dev`). `make test-fast`: unit and in-process tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fast lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[server,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ganscope serve

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

# no server process, worker process, cluster or browser, nothing slow: under 2 minutes here
test-fast: lint
	$(BIN)/python -m pytest -m "not integration and not browser and not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_trainer.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
