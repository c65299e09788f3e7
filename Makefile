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

# The repository's address, the one setting behind the book's repository and "open in Colab" buttons
# and the clone commands of its Setup page. CI passes its own (github.server_url/github.repository);
# otherwise it is git's `origin` when that is an https address; empty, the book leaves all of it out.
REPOSITORY_URL ?= $(shell git remote get-url origin 2>/dev/null | grep -E '^https://[^ ]+$$' | sed 's,\.git$$,,')

.PHONY: setup book test test-unit test-notebooks test-book check-book lab exercises grade clean distclean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# _config.yml plus the repository address, written into the build folder it configures.
define BOOK_CONFIG_PY
import re, sys, yaml
source, target, url = sys.argv[1], sys.argv[2], sys.argv[3].strip().rstrip("/").removesuffix(".git")
url = re.sub(r"^(https?://)[^/@]*@", r"\1", url)    # never publish credentials kept in a remote's URL
config = yaml.safe_load(open(source))
config["parse"].setdefault("myst_substitutions", {})["repository_url"] = url
if url:
    config["repository"]["url"] = url
    config["html"]["use_repository_button"] = True
    if url.startswith("https://github.com/"):
        config["launch_buttons"]["colab_url"] = "https://colab.research.google.com"
open(target, "w").write(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
endef
export BOOK_CONFIG_PY

# $(call build-book,OUTPUT): the strict build (warnings are errors) into OUTPUT/_build/html
define build-book
	@mkdir -p $(1)/_build
	$(BIN)/python -c "$$BOOK_CONFIG_PY" _config.yml $(1)/_build/_config.yml "$(REPOSITORY_URL)"
	$(BIN)/jupyter-book build . -W -n --keep-going --path-output $(1) --config $(1)/_build/_config.yml
endef

book: setup  ## render the book (stored notebook outputs, no re-execution) into _build/html
	$(call build-book,.)

test: setup test-unit test-notebooks test-book  ## every test: unit, notebooks (nbval), book build

test-unit: setup
	MPLBACKEND=Agg HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests -q -n 2 --dist loadscope

test-notebooks: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --durations=0 notebooks

test-book: setup  ## build the book into _build/test, then check the pages a reader sees
	$(call build-book,_build/test)
	$(MAKE) check-book BOOK_HTML=_build/test/_build/html

BOOK_HTML ?= _build/html
check-book: setup  ## check a built book: tables, maths, paths, links, test markers (headless browser if any)
	BOOK_HTML=$(BOOK_HTML) $(BIN)/python -m pytest -q tests/test_book_render.py

exercises: setup  ## regenerate exercises/ (student versions) from solutions/
	$(BIN)/python -m vitcourse exercises

grade: setup  ## grade a folder of submissions: make grade TP=tp1 SUBMISSIONS=submissions/ OUT=grades/ [ARGS="--rubric r.csv"]
	$(BIN)/python -m vitcourse grade $(TP) $(SUBMISSIONS) --out $(OUT) $(ARGS)

lab: setup  ## Jupyter Lab on the notebooks
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -name __pycache__ -prune -not -path './$(VENV)/*' -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
