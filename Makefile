# Two commands for a newcomer: `make run` and `make test` (see README.md).
# Everything happens inside .venv, created on first use from the pinned constraints.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MODE   ?= smoke

# Quieter TensorFlow start-up; notebooks and tests read SRFS_MODE.
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: help install run test unit nbtest lab notebooks benchmarks clean

help:
	@echo "make run        execute every numbered notebook (smoke mode) into build/, print a summary"
	@echo "make test       unit tests + every notebook under nbval (smoke mode)"
	@echo "make lab        start JupyterLab in notebooks/"
	@echo "make notebooks  re-execute the notebooks in demo mode and store their outputs"
	@echo "make benchmarks run the scripts in benchmarks/ (tables on screen, JSON in results/)"

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements/constraints.txt -e ".[dev]"
	@touch $@

install: $(STAMP)

run: $(STAMP)
	SRFS_MODE=$(MODE) $(PY) tools/run_notebooks.py --mode $(MODE) --out build

unit: $(STAMP)
	SRFS_MODE=$(MODE) $(PY) -m pytest tests

nbtest: $(STAMP)
	SRFS_MODE=$(MODE) $(PY) -m pytest --nbval-lax --nbval-cell-timeout=900 -p no:cacheprovider notebooks

# One pytest run, so CI reads one closing line for unit tests and notebooks together.
test: $(STAMP)
	SRFS_MODE=$(MODE) $(PY) -m pytest tests notebooks --nbval-lax --nbval-cell-timeout=900

lab: $(STAMP)
	$(PY) -m jupyter lab --notebook-dir=notebooks

notebooks: $(STAMP)
	SRFS_MODE=demo $(PY) tools/run_notebooks.py --mode demo --in-place

benchmarks: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf build .pytest_cache
