# The course's commands. `make book` and `make test` set everything up first (idempotent).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0

TP ?= tp1
SUBMISSIONS ?= submissions
OUT ?= grades

.PHONY: setup book test test-unit test-notebooks test-book lab exercises grade clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

book: setup  ## render the book (stored notebook outputs, no re-execution) into _build/html
	$(BIN)/jupyter-book build . -W -n --keep-going

test: setup test-unit test-notebooks test-book  ## every test: unit, notebooks (nbval), book build

test-unit: setup
	MPLBACKEND=Agg HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests -q -n 2 --dist loadscope

test-notebooks: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --durations=0 notebooks

test-book: setup
	$(BIN)/jupyter-book build . -W -n --keep-going --path-output _build/test

exercises: setup  ## regenerate exercises/ (student versions) from solutions/
	$(BIN)/python -m vitcourse exercises

grade: setup  ## grade a folder of submissions: make grade TP=tp1 SUBMISSIONS=submissions/ OUT=grades/
	$(BIN)/python -m vitcourse grade $(TP) $(SUBMISSIONS) --out $(OUT)

lab: setup  ## Jupyter Lab on the notebooks
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -name __pycache__ -prune -not -path './$(VENV)/*' -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
