# The front door. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: demo test test-container test-fast lint fmt bench chaos venv clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m reconciler demo

# Every tier: the Python tiers, then the container tier (which builds the image first).
test: $(STAMP)
	$(PY) -m pytest -m "not container"
	$(MAKE) test-container

# A Docker engine (started when none answers; needs root), a base image from Debian's
# packages and deploy/Dockerfile, then tests/container against that image.
test-container: $(STAMP)
	PY=$(PY) bash .ci/container.sh

test-fast: $(STAMP)
	$(PY) -m pytest -m "not flower and not e2e and not s3 and not container"

SOURCES = reconciler tests bench examples deploy

lint: $(STAMP)
	$(PY) -m ruff check $(SOURCES)
	$(PY) -m ruff format --check $(SOURCES)
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

fmt: $(STAMP)
	$(PY) -m ruff format $(SOURCES)
	$(PY) -m ruff check --fix $(SOURCES)

bench: $(STAMP)
	$(PY) bench/run_all.py --growth

# The fault suite against real processes (about 20 min, stops by itself, exit 1 when a
# promise is broken). CHAOS_FLAGS=--kills 5 for a shorter run; --help lists the flags.
CHAOS_FLAGS ?=
chaos: $(STAMP)
	$(PY) -m tests.reliability.chaos $(CHAOS_FLAGS)

clean:
	rm -rf .thunderline .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
