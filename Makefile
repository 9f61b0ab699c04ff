# One entry point for newcomers and CI. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP) ## run a tracked training job against the embedded sandbox
	$(BIN)/python scripts/demo.py

test: $(STAMP) ## the whole test suite, against real sandboxes on 127.0.0.1
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts examples

bench: $(STAMP) ## benchmarks; each prints ratios against a baseline measured in the same run
	$(BIN)/python bench/sandbox_tracking.py
	$(BIN)/python bench/sandbox_upload.py

clean:
	rm -rf $(VENV) .demo .pytest_cache .ruff_cache
