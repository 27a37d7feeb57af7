# The two commands of the README: `make run` and `make test`. Each installs what is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTHON_INSTALLED := $(VENV)/.installed
NODE_INSTALLED := frontend/node_modules/.installed
# The build's last step writes compressed copies (.gz, .br) next to each file, which whitenoise serves.
FRONTEND_BUILT := frontend/dist/index.html.gz
FRONTEND_SOURCES := $(shell find frontend/src frontend/index.html frontend/vite.config.* frontend/package.json -type f 2>/dev/null)
FAST := not slow and not browser and not integration

.PHONY: run test test-fast install frontend bench clean

# make run is the development server: DEBUG on (settings default it to off) unless the environment says otherwise.
run: export DEBUG ?= true
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_examples
	$(VENV)/bin/composer up

# Every test: unit, integration and browser. REDIS_URL/DATABASE_URL pick real services; unset,
# the embedded default is used (SQLite under var/ and the bundled redis-server).
test: install
	scripts/ensure-system-packages.sh chromium
	cd frontend && npm run --silent typecheck && npm test --silent
	$(PY) -m composer.embedded -- $(VENV)/bin/pytest $(PYTEST_ARGS)

# The quick subset (no subprocess stacks, no browser): seconds to a few minutes.
test-fast: install
	$(PY) -m composer.embedded -- $(VENV)/bin/pytest -m "$(FAST)" $(PYTEST_ARGS)

install: $(PYTHON_INSTALLED) $(FRONTEND_BUILT)
	scripts/ensure-system-packages.sh graphviz

$(PY):
	$(PYTHON) -m venv $(VENV)

$(PYTHON_INSTALLED): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(NODE_INSTALLED): frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(FRONTEND_BUILT): $(NODE_INSTALLED) $(FRONTEND_SOURCES) | $(PYTHON_INSTALLED)
	cd frontend && npm run build
	$(PY) -m whitenoise.compress --quiet frontend/dist

frontend: $(FRONTEND_BUILT)

bench: install
	$(VENV)/bin/composer bench

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist var
