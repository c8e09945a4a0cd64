# The two commands of the README are the contract: `make run` and `make test` work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HTTP_PARSER := http-parser==0.9.0

.PHONY: run test check lint typecheck unit integration bench fmt clean system-deps

# Debian packages (zookeeper for the integration tests, haproxy): checked on every run, installed only if missing.
system-deps:
	scripts/install-system-deps.sh

$(STAMP): pyproject.toml scripts/install-pymesos.sh | system-deps
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	scripts/install-pymesos.sh $(BIN)/python
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/corral dev $(ARGS)

test: $(STAMP) check
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit tests/scenarios tests/test_layering.py

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration

bench: $(STAMP)
	$(BIN)/python bench/launch.py $(ARGS)
	$(BIN)/python bench/allocator.py --agents 10000 --frameworks 1000
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/agent_cost.py
	$(BIN)/python bench/failover.py
	$(BIN)/python bench/lb.py
	$(BIN)/python bench/chronos_bench.py
	$(BIN)/python bench/marathon_bench.py

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .corral
