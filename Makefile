# Two set-up commands (README): `make demo` and `make test`.
# Both create .venv with Python 3.11 and install srs_tf and its dependencies.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo_run

.PHONY: install demo test clean-demo

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash experiments/demo.sh $(DEMO_DIR)

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q -n 2 --durations=15 tests

clean-demo:
	rm -rf $(DEMO_DIR)
