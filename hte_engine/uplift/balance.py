"""Refuse features that leak the treatment or the outcome.

The staging contract already refuses a feature observed after assignment (``features_at > assigned_at``). A
feature can still be post-treatment without saying so: a column computed from the outcome, a "received the
coupon" flag, an engagement score refreshed after the e-mail went out. In a randomised experiment every
pre-treatment feature has the same distribution in both arms, so a feature whose balance test between the arms
fails decisively was changed by the treatment (or by the outcome the treatment moved). Learners given such a
feature find "heterogeneity" that is the treatment itself.

Tests: Welch's t-test of the means for numeric features (plus the missing share, through a 2 x 2 chi-square),
Pearson's chi-square test of independence for categorical features. The threshold is var hte_check_alert_p
divided by the number of features tested (Bonferroni), so in a clean randomised experiment a feature is refused
by chance with probability at most that threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hte_engine.uplift.features import level_codes


@dataclass(frozen=True)
class BalanceTest:
    feature: str
    test: str
    p_value: float


def _numeric_balance(values: pd.Series, treated: np.ndarray) -> tuple[str, float]:
    x = values.to_numpy(dtype=float, na_value=np.nan)
    present = np.isfinite(x)
    p_values = []
    a, b = x[present & (treated == 1)], x[present & (treated == 0)]
    if a.size >= 2 and b.size >= 2 and (np.var(a) > 0 or np.var(b) > 0):
        p_values.append(float(stats.ttest_ind(a, b, equal_var=False).pvalue))
    if 0 < present.sum() < present.size:
        table = pd.crosstab(present, treated).to_numpy()
        if table.shape == (2, 2):
            p_values.append(float(stats.chi2_contingency(table, correction=False).pvalue))
    return "welch_t", min(p_values) if p_values else 1.0


def _categorical_balance(values: pd.Series, treated: np.ndarray) -> tuple[str, float]:
    # The level x arm table (a missing value is a level of its own), counted from the level codes.
    codes, levels = level_codes(values)
    arm = (np.asarray(treated) != 0).astype(np.int64)
    table = np.bincount(2 * codes + arm, minlength=2 * len(levels)).reshape(-1, 2)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return "chi_square", 1.0
    return "chi_square", float(stats.chi2_contingency(table, correction=False).pvalue)


def balance_tests(features: pd.DataFrame, treated) -> list[BalanceTest]:
    t = np.asarray(treated).astype(int)
    out = []
    for column in features.columns:
        values = features[column]
        if pd.api.types.is_numeric_dtype(values) and not isinstance(values.dtype, pd.CategoricalDtype):
            test, p = _numeric_balance(values, t)
        else:
            test, p = _categorical_balance(values, t)
        out.append(BalanceTest(column, test, p))
    return out


def leaking_features(features: pd.DataFrame, treated, alert_p: float) -> tuple[list[str], list[BalanceTest]]:
    """(refused feature names, every balance test). Bonferroni over the features tested."""
    tests = balance_tests(features, treated)
    threshold = alert_p / max(len(tests), 1)
    return [b.feature for b in tests if b.p_value < threshold], tests
