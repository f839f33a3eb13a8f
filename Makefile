# The README's commands. Each one sets up .venv first (only when pyproject.toml or the lock changed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test coverage lint bench format setup clean vendor screenshots

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "pip==26.3"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[server,cli,postgres,demo]" --group dev
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

# The console's browser tests with a screenshot of every step, at desktop (1280x800) and phone (390x844) width, for a
# person to review: PNGs under artifacts/screenshots/<flow>/ (not committed, not compared), listed at the end.
SCREENSHOT_SIZES := 1280x800 390x844
screenshots: $(STAMP)
	rm -rf artifacts/screenshots
	for size in $(SCREENSHOT_SIZES); do \
		CONTACTVAULT_SCREENSHOTS=1 CONTACTVAULT_VIEWPORT=$$size $(BIN)/python -m pytest tests/browser -q -p no:cacheprovider \
			|| exit 1; \
	done
	@find artifacts/screenshots -name '*.png' | sort

# Re-fetch the console's pinned browser files from npm (console/assets/package.json) into static/vendor/ and
# rewrite SHA256SUMS. Only for upgrading them: the copies are committed, so run and test never need Node.
CONSOLE := src/contactvault/server/console
vendor:
	rm -rf .vendor-tmp && mkdir .vendor-tmp
	cd .vendor-tmp && npm pack --silent htmx.org@4.0.1 @picocss/pico@2.1.1 >/dev/null \
		&& mkdir htmx pico && tar xzf htmx.org-4.0.1.tgz -C htmx && tar xzf picocss-pico-2.1.1.tgz -C pico
	cp .vendor-tmp/htmx/package/dist/htmx.min.js $(CONSOLE)/static/vendor/htmx-4.0.1.min.js
	cp .vendor-tmp/htmx/package/LICENSE $(CONSOLE)/static/vendor/htmx-LICENSE.txt
	cp .vendor-tmp/pico/package/css/pico.min.css $(CONSOLE)/static/vendor/pico-2.1.1.min.css
	cp .vendor-tmp/pico/package/LICENSE.md $(CONSOLE)/static/vendor/pico-LICENSE.md
	cd $(CONSOLE)/static/vendor && sha256sum htmx-4.0.1.min.js htmx-LICENSE.txt pico-2.1.1.min.css pico-LICENSE.md > SHA256SUMS
	rm -rf .vendor-tmp

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov artifacts test-results
