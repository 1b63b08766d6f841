# mmgsacp developer entry points. Everything runs inside .venv in the repo.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_ROOT ?= ../shared/data/SIRST3
PYTEST_ARGS ?=

.PHONY: install data demo test test-quick lint format bench-train-step bench-quality bench-infer clean

install: $(STAMP) data

# The configs read SIRST3 from data/SIRST3 (MMSeg's layout): a git-ignored link, made here to
# SIRST3_SOURCE when that exists. An existing link or folder (your own copy:
# `ln -sfn /path/to/SIRST3 data/SIRST3`) is left alone; nothing is copied.
SIRST3_SOURCE ?= ../shared/data/SIRST3
data:
	@if [ -e data/SIRST3 ] || [ -L data/SIRST3 ]; then \
		echo "data/SIRST3 -> $$(readlink data/SIRST3 || echo 'a folder') (kept)"; \
	elif [ -d "$(SIRST3_SOURCE)" ]; then \
		mkdir -p data && ln -s "$$(cd "$(SIRST3_SOURCE)" && pwd)" data/SIRST3 && \
		echo "data/SIRST3 -> $$(readlink data/SIRST3)"; \
	else \
		echo "no SIRST3 at $(SIRST3_SOURCE): link your copy with ln -sfn /path/to/SIRST3 data/SIRST3"; \
	fi

# Re-installs only when a requirement list or setup.py changed.
$(STAMP): requirements.txt requirements/runtime.txt requirements/tests.txt requirements/deploy.txt requirements/mm-fork.txt setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements/mm-fork.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: install
	$(PY) tools/demo.py

test: install
	$(PY) -m pytest -q tests $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# The tests under about 5 s each; `make test` (CI) runs everything.
test-quick: install
	$(PY) -m pytest -q -m "not slow" tests $(PYTEST_ARGS)

bench-train-step: install
	$(PY) tools/benchmarks/bench_train_step.py

bench-infer: install
	$(PY) tools/benchmarks/bench_infer.py

METHODS ?= all
bench-quality: install
	$(PY) tools/benchmarks/bench_quality.py --methods "$(METHODS)" --data-root $(DATA_ROOT)

clean:
	rm -rf work_dirs .pytest_cache
