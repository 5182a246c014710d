"""Reading a Python model's ``config: meta:``: the one place that knows how dbt hands var values over.

Every domain's ``Settings.from_meta(meta)`` starts from ``meta_values(meta)``; keys are the var names without the
``hte_`` prefix, and the defaults are the vars of ``dbt_project.yml`` (the model ymls pass them through).
"""

from __future__ import annotations

import ast
import datetime as _dt
from collections.abc import Mapping

import yaml

__all__ = ["meta_value", "meta_values"]

_NULLS = ("", "None", "none", "null", "Null", "NULL", "~")


def meta_value(value):
    """A meta value as dbt may hand it over: native, or the text of a rendered Jinja expression
    (``"{{ var('hte_uplift_learners') }}"`` renders to the text of a Python list)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text in _NULLS:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    try:
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        # text YAML cannot construct (e.g. "2026-13-45" looks like a date and is none) stays text, for the
        # setting's own check to name the var
        return text


def meta_values(meta: Mapping | None) -> dict:
    """Every key of a model's meta, decoded with ``meta_value`` (null-like texts become None)."""
    return {key: meta_value(value) for key, value in (meta or {}).items()}


def binary_metric_names(meta: Mapping | None) -> tuple[str, ...]:
    """The metrics var hte_metrics declares binary (from a model's decoded meta), in their declared order: the
    ones whose outcome models are classifiers, and whose lifts are read in percentage points."""
    metrics = (meta or {}).get("metrics") or {}
    return tuple(str(name) for name, spec in metrics.items() if (spec or {}).get("kind") == "binary")


def run_date_setting(value, model: str) -> str | None:
    """Var hte_run_date as YYYY-MM-DD text, or None when unset (the caller uses today). A YAML date, or text that is
    one; anything else stops the build with a sentence naming the var, rather than dating rows wrongly."""
    if value in (None, ""):
        return None
    text = str(value)
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"dbt_hte {model}: var hte_run_date must be a date written YYYY-MM-DD; got {text!r}."
        ) from None
    return text
