"""Data-driven segments people can read, with honest effects, and the features that drive the estimated effects.

Honest tree (Athey & Imbens 2016, "Recursive partitioning for heterogeneous causal effects"): units are split in
two halves; a shallow regression tree is grown on the doubly-robust effect scores of one half, and each leaf's
effect is estimated on the other half only, so the search that found a leaf does not inflate its effect. Each
leaf's effect is the mean doubly-robust score of its estimation units (unbiased for the leaf's average effect
with out-of-fold nuisances), with a normal interval and a p-value adjusted across the leaves.

With clusters (units sharing outcome noise), the halves keep clusters whole, as the cross-fitting folds do, and
the leaves' standard errors are cluster-robust: otherwise a cluster-mate in the growing half lets the tree chase
the estimation half's own noise, and the intervals treat correlated units as independent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.inspection import permutation_importance
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeRegressor
from statsmodels.stats.multitest import multipletests
from threadpoolctl import threadpool_limits

from hte_engine.uplift.calibration import mean_se
from hte_engine.uplift.crossfit import assign_folds
from hte_engine.uplift.features import category_codes, category_levels, level_codes

_P_ADJUST = {"holm": "holm", "bh": "fdr_bh", "bonferroni": "bonferroni"}
_SEP = " = "


def _encode(features: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """The tree's matrix and its column names: numeric columns as they are; each categorical level present
    becomes a 0/1 column named 'feature = level' (missing values the level '(missing)'), a feature's levels in
    sorted order. float32, the type scikit-learn's trees convert to: one matrix written in place, not a frame of
    float64 columns concatenated, copied and converted (at a million units, seconds a comparison)."""
    blocks = []
    for column in features.columns:
        values = features[column]
        if isinstance(values.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(values):
            codes, levels = level_codes(values)
            blocks.append(([f"{column}{_SEP}{level}" for level in levels], codes))
        else:
            blocks.append(([column], values.to_numpy(dtype=float, na_value=np.nan)))
    names = [name for block_names, _ in blocks for name in block_names]
    matrix = np.zeros((len(features), len(names)), dtype=np.float32)
    start = 0
    for block_names, values in blocks:
        if len(block_names) == 1 and values.dtype.kind == "f":
            matrix[:, start] = values
        else:
            matrix[np.arange(values.size), start + values] = 1.0
        start += len(block_names)
    return matrix, names


def _condition(name: str, threshold: float, goes_left: bool) -> tuple:
    if _SEP in name:
        feature, level = name.split(_SEP, 1)
        return feature, "!=" if goes_left else "=", level
    return name, "<=" if goes_left else ">", float(threshold)


def _readable(conditions: list[tuple], levels: dict[str, list[str]]) -> str:
    """One clause per feature, in the order the tree first split on it: the tightest numeric bounds
    ("30 < tenure <= 90"), and a categorical feature as the level it must equal, or the levels it may take
    when that is shorter than the levels it must not ("device = mobile" rather than "device != desktop")."""
    clauses = []
    for feature in dict.fromkeys(c[0] for c in conditions):
        ops = [(op, value) for f, op, value in conditions if f == feature]
        if feature in levels:
            equal = [v for op, v in ops if op == "="]
            if equal:
                clauses.append(f"{feature} = {equal[0]}")
                continue
            excluded = {v for op, v in ops if op == "!="}
            allowed = [v for v in levels[feature] if v not in excluded]
            if len(allowed) == 1:
                clauses.append(f"{feature} = {allowed[0]}")
            elif len(allowed) < len(excluded):
                clauses.append(f"{feature} in ({', '.join(allowed)})")
            elif len(excluded) == 1:
                clauses.append(f"{feature} != {next(iter(excluded))}")
            else:
                clauses.append(f"{feature} not in ({', '.join(sorted(excluded))})")
            continue
        low = max((v for op, v in ops if op == ">"), default=None)
        high = min((v for op, v in ops if op == "<="), default=None)
        if low is not None and high is not None:
            clauses.append(f"{low:.6g} < {feature} <= {high:.6g}")
        elif low is not None:
            clauses.append(f"{feature} > {low:.6g}")
        else:
            clauses.append(f"{feature} <= {high:.6g}")
    return " and ".join(clauses) if clauses else "all units"


def _leaf_rules(tree: DecisionTreeRegressor, names: list[str]) -> dict[int, str]:
    structure = tree.tree_
    rules: dict[int, str] = {}
    levels: dict[str, list[str]] = {}
    for name in names:
        if _SEP in name:
            feature, level = name.split(_SEP, 1)
            levels.setdefault(feature, []).append(level)

    def walk(node, conditions):
        left, right = structure.children_left[node], structure.children_right[node]
        if left == right:
            rules[node] = _readable(conditions, levels)
            return
        name, threshold = names[structure.feature[node]], structure.threshold[node]
        walk(left, conditions + [_condition(name, threshold, True)])
        walk(right, conditions + [_condition(name, threshold, False)])

    walk(0, [])
    return rules


def discover_segments(
    features: pd.DataFrame,
    dr_score,
    treated,
    max_depth: int = 3,
    min_leaf_size: int = 500,
    seed: int = 0,
    alpha: float = 0.05,
    p_adjust: str = "holm",
    cluster=None,
) -> pd.DataFrame:
    """One row per leaf: rule, sizes in both halves, honest effect with se, interval, p-value and adjusted p.
    ``cluster``: one resampling key per unit (``resampling.resampling_keys``), or None for independent
    units."""
    if not 1 <= max_depth <= 3:
        raise ValueError(f"Discovered segments use trees of depth 1 to 3 to stay readable; got {max_depth}.")
    if p_adjust not in _P_ADJUST:
        raise ValueError(f"var hte_p_adjust must be one of {sorted(_P_ADJUST)}; got '{p_adjust}'.")
    gamma = np.asarray(dr_score, dtype=float)
    t = np.asarray(treated).astype(int)
    encoded, names = _encode(features)
    if cluster is None:
        grow, estimate = train_test_split(np.arange(gamma.size), test_size=0.5, random_state=seed, stratify=t)
    else:
        cluster = pd.Series(cluster).astype(str).to_numpy(dtype=object)
        half = assign_folds(t, 2, seed, cluster)
        grow, estimate = np.flatnonzero(half == 0), np.flatnonzero(half == 1)
    tree = DecisionTreeRegressor(max_depth=max_depth, min_samples_leaf=min_leaf_size, random_state=seed)
    tree.fit(encoded[grow], gamma[grow])
    rules = _leaf_rules(tree, names)
    leaf_grow = tree.apply(encoded[grow])
    leaf_est = tree.apply(encoded[estimate])
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for leaf, rule in rules.items():
        part = estimate[leaf_est == leaf]
        g = gamma[part]
        n = g.size
        effect = g.mean() if n else np.nan
        se = mean_se(g, None if cluster is None else cluster[part])
        rows.append(
            {
                "rule": rule,
                "leaf": int(leaf),
                "n_grow": int(np.sum(leaf_grow == leaf)),
                "n_units": int(n),
                "n_treatment": int(t[part].sum()),
                "n_control": int(n - t[part].sum()),
                "effect": effect,
                "effect_se": se,
                "effect_ci_low": effect - z * se,
                "effect_ci_high": effect + z * se,
                "p_value": 2 * stats.norm.sf(abs(effect / se)) if np.isfinite(se) and se > 0 else np.nan,
            }
        )
    table = pd.DataFrame(rows).sort_values("effect", ascending=False, ignore_index=True)
    valid = table["p_value"].notna()
    table["p_value_adj"] = np.nan
    if valid.any():
        table.loc[valid, "p_value_adj"] = multipletests(table.loc[valid, "p_value"], method=_P_ADJUST[p_adjust])[1]
    table["status"] = np.where(
        table["n_units"] < min_leaf_size,
        "too_small",
        np.where(table["p_value_adj"] < alpha, "significant", "not_significant"),
    )
    return table


def effect_drivers(features: pd.DataFrame, cate, seed: int = 0, n_repeats: int = 5) -> pd.DataFrame:
    """Which features drive the estimated effects: permutation importance (drop in R^2 when a feature is
    shuffled) of a boosted surrogate of the chosen learner's scores."""
    cate = np.asarray(cate, dtype=float)
    # Categorical features as their level codes (``category_codes``): the same model and the same shuffles, without
    # the text lookups of each of the permutations' predictions.
    levels = category_levels(features)
    coded = category_codes(features, levels)
    surrogate = HistGradientBoostingRegressor(
        max_iter=100, categorical_features=list(levels) or None, random_state=seed
    )
    # One OpenMP thread, as in cross-fitting: shared cores make HistGradientBoosting's threads spin-wait.
    with threadpool_limits(limits=1, user_api="openmp"):
        surrogate.fit(coded, cate)
        result = permutation_importance(surrogate, coded, cate, n_repeats=n_repeats, random_state=seed, scoring="r2")
    return pd.DataFrame(
        {
            "feature": list(features.columns),
            "importance": result.importances_mean,
            "importance_sd": result.importances_std,
        }
    ).sort_values("importance", ascending=False, ignore_index=True)
