# Two entry points for a fresh machine: `make demo` (set up, then run the main job
# on embedded defaults) and `make test` (set up, then lint and run the suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml api/web/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	npm ci --prefix api/web --no-audit --no-fund --ignore-scripts  # Swagger UI for /docs, served locally
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/huiqi demo

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) lint
	$(BIN)/mypy  # policies/ strictly: [tool.mypy] in pyproject.toml
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n auto --dist loadgroup  # one worker per core, bytecode cached; README, Tests

bench: $(STAMP)
	$(BIN)/python bench/registries.py
	$(BIN)/python bench/rules.py
	$(BIN)/python bench/analysis.py
	$(BIN)/python bench/run.py
	$(BIN)/python bench/payouts.py
	$(BIN)/python bench/ranker.py
	$(BIN)/python bench/service.py --workers 2
	$(BIN)/python bench/web.py

clean:
	rm -rf $(VENV) data .pytest_cache
