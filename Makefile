# Two entry points on a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.skfer-installed

.PHONY: demo test lint bench docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools<81" wheel
	$(PY) -m pip install -q -e ".[dev,dask]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/skfer demo

test: $(STAMP)
	$(VENV)/bin/ruff check skfer tests benchmarks
	$(PY) -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(VENV)/bin/ruff check skfer tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
