# Two entry points on a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.skfer-installed

.PHONY: demo test lint bench docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools<81" wheel
	$(PY) -m pip install -q -e ".[dev,dask,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/skfer demo

test: $(STAMP)
	$(VENV)/bin/ruff check skfer tests benchmarks docs
	$(PY) -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(VENV)/bin/ruff check skfer tests benchmarks docs

# Strict HTML docs (warnings are errors); installs the docs extra into an older venv.
docs: $(STAMP)
	$(PY) -c "import sphinx, numpydoc, myst_parser, pydata_sphinx_theme" 2>/dev/null \
		|| $(PY) -m pip install -q -e ".[docs]"
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache docs/_build docs/api
