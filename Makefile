# One entry point for newcomers and CI. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test e2e compat lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP) ## run a tracked training job against the embedded sandbox
	$(BIN)/python scripts/demo.py

test: $(STAMP) ## the whole test suite, against real sandboxes on 127.0.0.1
	@# tests/browser open the pages in Debian's headless Chromium; as root, install it.
	@command -v chromedriver >/dev/null || [ "$$(id -u)" != 0 ] || \
		apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; } \
		|| true
	$(BIN)/python -m pytest -q

# gitlab-ci-local 4.60.0 runs on Node 20 and copies job folders with rsync (Debian's).
GITLAB_CI_LOCAL := .e2e-tools/node_modules/.bin/gitlab-ci-local

$(GITLAB_CI_LOCAL):
	@command -v npm >/dev/null || { echo "make e2e needs Node.js 20 and npm"; exit 1; }
	npm install --prefix .e2e-tools --no-save --no-audit --no-fund --loglevel=error \
		gitlab-ci-local@4.60.0

e2e: $(STAMP) $(GITLAB_CI_LOCAL) ## the examples' pipelines under gitlab-ci-local, on the sandbox
	@command -v rsync >/dev/null || { [ "$$(id -u)" = 0 ] && \
		{ apt-get install -y -qq rsync >/dev/null 2>&1 || \
		  { apt-get update -qq && apt-get install -y -qq rsync >/dev/null; }; }; } || \
		{ echo "make e2e needs rsync (apt-get install rsync)"; exit 1; }
	$(BIN)/python -m pytest -q -m e2e tests/e2e

# MLflow 2.x clients (issues 9 and 17), each with mlflow-gitlab installed beside it as in a
# job, so MLflow loads the plugins: the newest 2.x and the oldest supported (2.16). Their
# scripts run under `mlflow-gitlab run` from .venv. Building them downloads about a minute
# of wheels, so they stay out of `make test`.
VENV2 := .venv-mlflow2
VENV_OLDEST := .venv-mlflow-oldest
$(VENV2)/.installed-stamp: MLFLOW := mlflow-skinny<3
$(VENV_OLDEST)/.installed-stamp: MLFLOW := mlflow-skinny==2.16.*
$(VENV2)/.installed-stamp $(VENV_OLDEST)/.installed-stamp: pyproject.toml
	test -x $(@D)/bin/python || $(PYTHON) -m venv $(@D)
	$(@D)/bin/python -m pip install --quiet --disable-pip-version-check -e . \
		"$(MLFLOW)" scikit-learn pandas
	touch $@

compat: $(STAMP) $(VENV2)/.installed-stamp $(VENV_OLDEST)/.installed-stamp ## MLflow 2.x clients (newest, oldest supported) through the relay and the plugin
	$(BIN)/python -m pytest -q -m compat tests/api/test_mlflow3.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts examples

bench: $(STAMP) ## benchmarks; each prints ratios against a baseline measured in the same run
	$(BIN)/python bench/context_startup.py
	$(BIN)/python bench/sandbox_tracking.py
	$(BIN)/python bench/sandbox_upload.py
	$(BIN)/python bench/packages_upload.py --sizes-mib 256
	$(BIN)/python bench/release_selection.py
	$(BIN)/python bench/relay_throughput.py
	$(BIN)/python bench/job_setup.py

clean:
	rm -rf $(VENV) $(VENV2) $(VENV_OLDEST) .demo .pytest_cache .ruff_cache .e2e-tools
