# mmgsacp developer entry points. Everything runs inside .venv in the repo.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_ROOT ?= ../shared/data/SIRST3
PYTEST_ARGS ?=

.PHONY: install demo test test-quick bench-train-step bench-quality bench-infer clean

install: $(STAMP)

# Re-installs only when a requirement list or setup.py changed.
$(STAMP): requirements.txt requirements/mm-fork.txt setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements/mm-fork.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: install
	$(PY) tools/demo.py

test: install
	$(PY) -m pytest -q tests $(PYTEST_ARGS)

# The tests under about 5 s each; `make test` (CI) runs everything.
test-quick: install
	$(PY) -m pytest -q -m "not slow" tests $(PYTEST_ARGS)

bench-train-step: install
	$(PY) tools/bench_train_step.py

bench-infer: install
	$(PY) tools/bench_infer.py

METHODS ?= all
bench-quality: install
	$(PY) tools/bench_quality.py --methods "$(METHODS)" --data-root $(DATA_ROOT)

clean:
	rm -rf work_dirs .pytest_cache
