# The two commands a new user needs: `make demo` and `make test`.
# Both create .venv on first use (only Python 3.11+ is required on the machine).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rlcm demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(MAKE) --no-print-directory typecheck

# mypy --strict over reconciler/ and benchmarks/ (pyproject.toml), then tests/. tests/ has no
# __init__.py: helpers are imported by bare name from their own directory and several
# directories have a conftest.py, so each directory is checked on its own with itself on the
# search path. All runs share .mypy_cache (about 4 s warm, 10 s cold on 2 cores).
TEST_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard tests/*/*.py))))

typecheck: $(STAMP)
	$(BIN)/mypy
	MYPYPATH=tests $(BIN)/mypy $(wildcard tests/*.py)
	@for dir in $(TEST_DIRS); do \
		echo "MYPYPATH=$$dir $(BIN)/mypy $$dir"; \
		MYPYPATH=$$dir $(BIN)/mypy $$dir || exit 1; \
	done

# pytest exits 5 when it collects nothing; make fails on any non-zero exit.
test: lint
	$(BIN)/pytest -n auto -q

# The fleet benchmark (README "Performance"): about 16 minutes on 2 cores; installs the `bench` extra.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
