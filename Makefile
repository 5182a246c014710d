# The two commands: `make demo` and `make test`. Both create the environment on a fresh machine first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: help setup demo demo-loop test test-fast test-install test-reliability lint format report bench bench-sql bench-regression bench-build docs clean

help:
	@echo "make demo          set up .venv, dbt build the bundled demo on DuckDB, print the summary"
	@echo "make demo-loop     the policy loop: deploy on new customers, run the policy test, measure it (target/policy_loop)"
	@echo "make test          set up .venv, run every test (README: Tests)"
	@echo "make test-fast     tests/unit: the engine and reference tests (about 2 minutes)"
	@echo "make test-install  the README's install line in a fresh virtual environment"
	@echo "make test-reliability  the failure cases of docs/reliability.md (bad input, failed builds)"
	@echo "make lint          ruff check and ruff format --check of the Python, sqlfluff of the SQL (make test runs it first)"
	@echo "make format        ruff format the Python and apply ruff's safe lint fixes"
	@echo "make report        the HTML report of target/dbt_hte.duckdb (after make demo)"
	@echo "make docs          dbt docs generate"
	@echo "make bench         SQL and regression benchmarks at BENCH_UNITS (default 10M)"
	@echo "make bench-build   the whole dbt build of a user's project at BUILD_UNITS (default 1M)"
	@echo "make setup         the pinned environment only;  make clean  removes it and dbt's output"

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements.lock.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -c requirements.lock.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

demo: setup
	$(BIN)/dbt build
	$(BIN)/python -m hte_engine.report.summary target/dbt_hte.duckdb

# Deploy the demo's coupon policy on 20,000 new customers, simulate its policy test from the known truth, and
# measure the policy against the holdout in a second build (scripts/demo_policy_loop.py, docs/population.md).
demo-loop: setup
	$(BIN)/python scripts/demo_policy_loop.py

report: setup
	$(BIN)/python -m hte_engine.report target/dbt_hte.duckdb -o report.html

test: setup lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -rfE --durations=15

# pyflakes, pycodestyle, import order and bugbear over the engine, models, tests and benchmarks, and the layout
# ruff format gives them (pyproject.toml); `make format` applies that layout and the fixable lint findings.
# Then sqlfluff over the package's SQL as dbt renders it at parse time on DuckDB (.sqlfluff, lint/sqlfluff_dbt).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint models macros --processes 2

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The first tier alone, tests/unit (no dbt, database server, Spark or simulations): a couple of minutes, for the
# edit-test loop. The other tiers: tests/build (dbt builds on DuckDB), tests/integration (other warehouses, real data).
test-fast: setup
	$(BIN)/python -m pytest -q -n 2 -rfE -m "not slow" tests/unit

# Every failure case docs/reliability.md names: bad input on a good warehouse, degenerate data, failed builds.
test-reliability: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -rfE -m reliability

# The README's install line in a fresh virtual environment alone (make test runs it too).
test-install: setup
	$(BIN)/python -m pytest -q -rfE -m install

# Benchmarks (minutes, not part of `make test`): each reports ratios against a baseline measured in the same run.
BENCH_UNITS ?= 10000000
bench: bench-sql bench-regression

bench-sql: setup
	$(BIN)/python bench/run_sql_bench.py --units $(BENCH_UNITS)

bench-regression: setup
	$(BIN)/python bench/bench_regression.py --units $(BENCH_UNITS)

# The whole `dbt build` of a user's project, Python models and tests included (README: "Benchmarks").
BUILD_UNITS ?= 1000000
bench-build: setup
	$(BIN)/python bench/bench_build.py --units $(BUILD_UNITS)

docs: setup
	$(BIN)/dbt docs generate

clean:
	rm -rf $(VENV) target logs dbt_packages
