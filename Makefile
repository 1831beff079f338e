# Two commands on a fresh machine: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test gate lint format bench reliability browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,notebooks,distributed]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/surge demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The demo-page test renders results/demo/index.html in headless Chromium from Debian's packages;
# install it when we can (root with apt), otherwise that test skips with a reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1; } \
	  || echo "chromium is not installed: the browser test will be skipped"

test: lint browser
	$(BIN)/python -m pytest
	$(MAKE) gate

# The A/B regression gate: HEAD against the revision in .ci/ab-reference (docs/ci.md).
gate: setup
	PYTHON=$(BIN)/python bash .ci/gate

bench: setup
	$(BIN)/surge bench all
	$(BIN)/surge bench docs

reliability: setup
	$(BIN)/python -m pytest -m reliability

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
