"""The engine installs and imports on its own: `pip install dbt-hte-engine` without the [duckdb] extra is what a
Snowflake or Databricks user has, so no module may need DuckDB or dbt at import time, and every third-party module
the engine imports must be one of its declared dependencies."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib

import yaml
from packaging.requirements import Requirement

import hte_engine
from dbt_runner import REPO

ENGINE = REPO / "hte_engine"
# import name -> distribution name, where they differ
DISTRIBUTION = {"sklearn": "scikit-learn", "yaml": "pyyaml"}


def engine_modules() -> list[str]:
    return sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for path in ENGINE.rglob("*.py")
    )


def test_every_engine_module_imports_without_duckdb_or_dbt():
    modules = engine_modules()
    assert "hte_engine.report.summary" in modules and len(modules) > 30
    # None in sys.modules makes `import duckdb` raise ImportError, as on a machine without it
    script = (
        "import importlib, sys\n"
        "for blocked in ('duckdb', 'dbt', 'pyspark'): sys.modules[blocked] = None\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


def test_the_engine_declares_every_third_party_module_it_imports():
    declared = {
        Requirement(r).name.lower()
        for r in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    imported = set()
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {
        name for name in imported if name not in sys.stdlib_module_names and name not in ("hte_engine", "__future__")
    }
    # imported lazily: DuckDB and pyspark where a warehouse of that kind is read (hte_engine/io.py), dbt's logger
    # where a Python model runs inside dbt (hte_engine/progress.py)
    optional = {"duckdb", "pyspark", "dbt"}
    missing = sorted(name for name in third_party - optional if DISTRIBUTION.get(name, name).lower() not in declared)
    assert not missing, f"imported by hte_engine but not in pyproject's dependencies: {missing}"
    assert "yaml" in third_party and "sklearn" in third_party  # not vacuous


def test_one_version_number():
    """The package has one version, hte_engine.__version__: pyproject.toml and dbt_project.yml repeat it (neither
    can read Python at install or parse time without walking the checkout) and the changelog's newest entry
    names it."""
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"] == hte_engine.__version__
    assert str(yaml.safe_load((REPO / "dbt_project.yml").read_text())["version"]) == hte_engine.__version__
    released = re.findall(r"^## (\d+\.\d+\.\d+)", (REPO / "CHANGELOG.md").read_text(), flags=re.M)
    assert released and released[0] == hte_engine.__version__, released


def test_importing_the_engine_loads_the_statistics_stack_once():
    # dbt-duckdb runs two Python models at once in threads; two threads importing scikit-learn together deadlocked
    # (narwhals.stable.v1). hte_engine/__init__.py imports the stack under Python's lock on the package: every
    # scikit-learn, statsmodels and scipy module the engine imports must be loaded by `import hte_engine` alone.
    wanted = set()
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                else []
            )
            wanted |= {name for name in names if name.split(".")[0] in ("sklearn", "statsmodels", "scipy")}
    assert {"sklearn.model_selection", "statsmodels.api"} <= wanted
    script = f"import sys, hte_engine; print(sorted(set({sorted(wanted)!r}) - set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]", f"not loaded by import hte_engine: {result.stdout}"
