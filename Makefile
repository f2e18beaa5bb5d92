# The two quickstart commands are `make demo` and `make test`; each builds its own
# virtual environment (.venv) with Python 3.11 and installs what it needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOME_DIR ?= omni-home

.PHONY: demo test lint typecheck pytest serve venv clean

$(BIN)/omni: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/omni

venv: $(BIN)/omni

## Run the demo business end to end on the embedded default (DuckDB + SQLite).
demo: venv
	$(BIN)/omni --home $(HOME_DIR) demo --reset

## Lint, type-check and run the whole test suite (starts a private PostgreSQL where it can).
test: venv
	bash scripts/ensure-test-services.sh
	$(BIN)/ruff check src tests benchmarks evaluations
	$(BIN)/ruff format --check src tests benchmarks evaluations
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist worksteal

serve: venv
	$(BIN)/omni --home $(HOME_DIR) serve

clean:
	rm -rf $(VENV) $(HOME_DIR)
