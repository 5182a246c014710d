"""Every default has one home: the vars of dbt_project.yml.

- every hte_ var the package reads is declared there (with its comment), except hte_demo, which is left unset on
  purpose (seeds/demo/demo.yml);
- models and their ymls read a var without a fallback: a node of dbt_hte always sees the package's vars, so a
  fallback there could only disagree (hte_regression_seed's said 20240607 while the project said 0);
- macros keep fallbacks (a run-operation renders them in the root project's context, without the package's vars),
  and each equals the project's value;
- the engine's settings classes, built without meta, equal the same classes built from the project's vars: a
  Python caller of hte_engine gets what dbt users get.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from dbt_runner import REPO
from hte_engine.regression import RegressionSettings
from hte_engine.settings import meta_value
from hte_engine.targeting.tables import TargetingSettings
from hte_engine.uplift.tables import UpliftSettings

PROJECT_VARS = yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]["dbt_hte"]
VAR_CALL = re.compile(r"var\(\s*(['\"])(hte_[a-z_0-9]+)\1\s*(?:,\s*([^()]*?))?\s*\)")
# The config macros that read and check a var (macros/config/hte_config_choice.sql, hte_config_number.sql) take its
# name and its fallback as `default=`; the fallback is read from the rest of the call (up to the closing "}}").
CONFIG_CALL = re.compile(r"hte_config_(?:choice|number)\(\s*(['\"])(hte_[a-z_0-9]+)\1")
CONFIG_DEFAULT = re.compile(r"default\s*=\s*('[^']*'|\"[^\"]*\"|[^,()\s]+)")
UNSET_ON_PURPOSE = {"hte_demo"}
# vars whose project value describes the bundled demo's data (its columns, metrics, economics), not a default
DEMO_VALUES = {"segment_columns", "feature_columns", "metrics", "targeting_economics"}


def var_calls(folders: list[str], patterns: tuple[str, ...]) -> list[tuple[Path, str, str | None]]:
    calls = []
    for folder in folders:
        for pattern in patterns:
            for path in sorted((REPO / folder).rglob(pattern)):
                text = path.read_text()
                calls += [(path, m.group(2), m.group(3)) for m in VAR_CALL.finditer(text)]
                for m in CONFIG_CALL.finditer(text):
                    default = CONFIG_DEFAULT.search(text[m.end() : text.find("}}", m.end())])
                    calls.append((path, m.group(2), default.group(1) if default else None))
    return calls


MODEL_CALLS = var_calls(["models", "python_models"], ("*.sql", "*.yml", "*.py"))
MACRO_CALLS = var_calls(["macros"], ("*.sql",))


def test_the_scan_finds_the_package_vars():
    # not vacuous: the regex sees the calls of every kind of file
    assert len(MODEL_CALLS) > 100 and len(MACRO_CALLS) > 10
    assert {"hte_uplift_seed", "hte_regression_seed", "hte_targeting_seed"} <= {name for _, name, _ in MODEL_CALLS}


def test_every_var_the_package_reads_is_declared_in_dbt_project_yml():
    undeclared = sorted(
        {
            f"{name} ({path.relative_to(REPO)})"
            for path, name, _ in MODEL_CALLS + MACRO_CALLS
            if name not in PROJECT_VARS and name not in UNSET_ON_PURPOSE
        }
    )
    assert not undeclared, undeclared


def test_models_read_vars_without_a_fallback():
    fallbacks = sorted(
        f"{path.relative_to(REPO)}: {name}, {fallback}"
        for path, name, fallback in MODEL_CALLS
        if fallback is not None and name in PROJECT_VARS
    )
    assert not fallbacks, fallbacks


def test_macro_fallbacks_equal_the_project_values():
    differing = sorted(
        f"{path.relative_to(REPO)}: {name} falls back to {fallback}, the project says {PROJECT_VARS[name]!r}"
        for path, name, fallback in MACRO_CALLS
        if fallback is not None and name in PROJECT_VARS and meta_value(fallback) != PROJECT_VARS[name]
    )
    assert not differing, differing


@pytest.mark.parametrize("settings_class", [RegressionSettings, UpliftSettings, TargetingSettings])
def test_engine_defaults_equal_the_project_vars(settings_class):
    meta = {
        name.removeprefix("hte_"): value
        for name, value in PROJECT_VARS.items()
        if name.removeprefix("hte_") not in DEMO_VALUES
    }
    from_project, default = settings_class.from_meta(meta), settings_class()
    differing = {
        field.name: (getattr(default, field.name), getattr(from_project, field.name))
        for field in dataclasses.fields(settings_class)
        if getattr(default, field.name) != getattr(from_project, field.name)
    }
    assert not differing, f"{settings_class.__name__}: field (engine default, project var): {differing}"
