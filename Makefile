# The two commands: `make demo` and `make test`. Both create the environment on a fresh machine first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: setup demo test test-fast test-install report bench bench-sql bench-regression bench-build docs clean

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

report: setup
	$(BIN)/python -m hte_engine.report target/dbt_hte.duckdb -o report.html

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -rfE --durations=15 -m "not install"

# The engine and reference tests alone (no dbt, Spark or simulations): a couple of minutes, for the edit-test loop.
test-fast: setup
	$(BIN)/python -m pytest -q -n 2 -rfE -m "not dbt and not spark and not slow and not install"

# The README's install line in a fresh virtual environment (pip downloads every wheel: minutes, and the registry).
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
