# The README's commands. Each one sets up .venv first (only when pyproject.toml or the lock changed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test coverage lint bench format setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "pip==26.3"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[server,cli,postgres]" --group dev
	touch $(STAMP)

# make run PORT=8011 (or CONTACTVAULT_PORT=8011 make run) serves on another port; the default is 8000.
PORT ?= $(CONTACTVAULT_PORT)

run: $(STAMP)
	$(BIN)/contactvault demo-serve$(if $(PORT), --port $(PORT))

# The whole suite, on SQLite and on PostgreSQL (throwaway servers; .ci/install-services installs them if missing).
test: $(STAMP)
	bash .ci/install-services
	CONTACTVAULT_TEST_REQUIRE_SERVICES=1 $(BIN)/python -m pytest -n 2 -q

# Branch coverage of the whole suite (SQLite and PostgreSQL): a report, not a gate. Slower than make test, so apart.
# Terminal report of the modules not fully covered; htmlcov/index.html has the lines and branches.
coverage: $(STAMP)
	bash .ci/install-services
	CONTACTVAULT_TEST_REQUIRE_SERVICES=1 $(BIN)/python -m pytest -n 2 -q -p no:cacheprovider \
		--cov --cov-branch --cov-report=term-missing:skip-covered --cov-report=html

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
