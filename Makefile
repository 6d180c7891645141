# Make targets are what CI calls; each one only delegates to invoke or nox/pytest in the venv.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
ROOT   ?= .
ECOSYSTEM ?= pypi
LIMIT  ?= 3

.PHONY: venv run test test-fast lint typecheck check-data clean setup-containers test-containers

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,containers]'
	touch $(STAMP)

## The main job: one small live batch (seed -> generate -> validate -> merge) into ROOT.
## Exit 4 (some items failed and were recorded) is a normal outcome of a batch, not an error.
run: venv
	$(BIN)/invoke pipeline --ecosystem $(ECOSYSTEM) --limit $(LIMIT) --root $(ROOT) || [ $$? -eq 4 ]

## All tests, including live PyPI/npm tests (marked `network`).
test: venv
	$(BIN)/python -m pytest

## Offline tests only.
test-fast: venv
	$(BIN)/python -m pytest -m "not network and not containers"

lint: venv
	$(BIN)/ruff check automation tests tasks.py noxfile.py
	$(BIN)/ruff format --check automation tests tasks.py noxfile.py

typecheck: venv
	$(BIN)/mypy

check-data: venv
	$(BIN)/invoke check-data --root $(ROOT)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## Container engine + base images + validation images (root; ENVS="debian-12 ubuntu-24.04").
ENVS ?= debian-12 ubuntu-24.04
setup-containers:
	containers/setup.sh --build $(ENVS)

## testinfra specs in the built images (REGISTRY_AUTOMATION_TEST_ENVS narrows them).
test-containers: venv
	REGISTRY_AUTOMATION_TEST_ENVS="$(ENVS)" $(BIN)/python -m pytest -m containers tests/containers
