# The README's two set-up commands: `make demo` and `make test`.
# Both create .venv and install what they need; only Python 3.11+ and make are required.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck layers unit clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("dunbot needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dunbot demo --dir demo

lint: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench

typecheck: $(STAMP)
	$(BIN)/mypy bot

# The import contracts in pyproject.toml ([tool.importlinter]): layers, no cycles, vendors at the edge.
layers: $(STAMP)
	$(BIN)/lint-imports --no-cache

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# One pytest worker per core (pytest-xdist); a file's tests stay together on one worker, so its
# module fixtures are built once. `make test WORKERS=1` runs them one after another.
WORKERS ?= auto

test: lint typecheck layers
	$(BIN)/pytest -q -n $(WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache
