"""Interaction regressions that cells cannot give, fit on unit rows (all of them, or a bounded sample).

Three questions need the units: cluster-robust standard errors (the meat sums scores within a cluster, and a
cluster spans cells), the fully interacted covariate adjustment of Lin (2013) with robust errors (its meat needs
fourth moments of the covariate), and average marginal effects from a logistic model. The unit rows come
from `int_hte_units` (one row per experiment x unit x metric).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from hte_engine.regression.cells import LinearFit, aliased_columns
from hte_engine.regression.interactions import (
    REGRESSION_COLUMNS,
    ComparisonKeys,
    RegressionSettings,
    as_frame,
    comparisons,
    experiment_dimensions,
    interaction_design,
    interaction_regressions,
    reference_segments,
)


def as_unit_cells(units: pd.DataFrame) -> pd.DataFrame:
    """Units in the cell shape the regression code reads: each unit is a cell of one."""
    y = units["y"].astype(float)
    cluster = (
        units["cluster_id"].astype(object).where(units["cluster_id"].notna(), "unit:" + units["unit_id"].astype(str))
    )
    return units.assign(n=1.0, sum_y=y, sum_y2=y**2, cluster_id=cluster)


def fit_units_clustered(
    data: pd.DataFrame, x: np.ndarray, names: tuple[str, ...], settings: RegressionSettings
) -> LinearFit:
    """OLS with statsmodels' cluster-robust covariance (its default small-sample correction G/(G-1)(N-1)/(N-K)).

    A unit without a cluster is its own cluster, which makes the estimator HC1-like for those units.
    """
    aliased = aliased_columns(x)
    kept = ~aliased
    groups = pd.factorize(data["cluster_id"])[0]
    fit = sm.OLS(data["sum_y"].to_numpy(dtype=float), x[:, kept]).fit(cov_type="cluster", cov_kwds={"groups": groups})
    params = np.full(len(names), np.nan)
    params[kept] = fit.params
    return LinearFit(
        names=tuple(names),
        params=params,
        cov=np.asarray(fit.cov_params()),
        aliased=aliased,
        n_units=float(len(data)),
        rank=int(kept.sum()),
        cov_type="cluster",
        residual_ss=float(fit.ssr),
    )


def clustered_interaction_regressions(
    units: pd.DataFrame,
    experiments: pd.DataFrame,
    dimensions: Sequence[str],
    settings: RegressionSettings,
    fit_source: str,
) -> pd.DataFrame:
    """Marginal and adjusted models with cluster-robust errors, same rows as the cell path."""
    return interaction_regressions(
        as_unit_cells(units), experiments, dimensions, settings, fit_units_clustered, fit_source
    )


def covariance_kwargs(data: pd.DataFrame, settings: RegressionSettings) -> dict:
    if data["cluster_id"].nunique() < len(data):
        return {"cov_type": "cluster", "cov_kwds": {"groups": pd.factorize(data["cluster_id"])[0]}}
    return {"cov_type": settings.cov_type}


# The name under which the metric's pre-period value appears among the covariates (cannot clash with a column).
PRE_PERIOD = "pre-period value"


def feature_covariates(features: pd.DataFrame | None, experiment_id: str) -> pd.DataFrame:
    """One row per unit of the experiment: its numeric pre-treatment features (stg_hte_unit_features).

    A feature row without experiment_id applies to every experiment (macro hte_feature_join); when a unit has
    both, the experiment's own row wins. Columns with no value in this experiment are dropped.
    """
    if features is None or features.empty:
        return pd.DataFrame(columns=["unit_id"])
    ids = ("experiment_id", "unit_id")
    numeric = [c for c in features.columns if c not in ids and pd.api.types.is_numeric_dtype(features[c])]
    own = (features["experiment_id"].astype("string") == experiment_id).fillna(False).astype(bool)
    rows = features.loc[own | features["experiment_id"].isna(), ["unit_id", *numeric]].assign(_own=own)
    rows = rows.sort_values("_own", ascending=False, kind="stable").drop_duplicates("unit_id").drop(columns="_own")
    rows = rows.assign(unit_id=rows["unit_id"].astype(str))
    return rows[["unit_id", *[c for c in numeric if rows[c].notna().any()]]]


def covariate_matrix(pair: pd.DataFrame, feature_rows: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """The centred covariates of one comparison's units and their names.

    The pre-period value `x` comes first when the metric has one, then the numeric features. A covariate that
    is missing for some units is filled with its mean and joined by a missing indicator: both are pre-treatment,
    so the adjusted estimator stays consistent (Lin, Green and Coppock's standard operating procedure), whereas
    dropping those units would change the population the effect is about. Constant covariates, and covariates
    that are linear combinations of earlier ones, carry no information and are dropped.
    """
    frame = pd.DataFrame({"unit_id": pair["unit_id"].astype(str).to_numpy()})
    if pair["x"].notna().any():
        frame[PRE_PERIOD] = pair["x"].to_numpy(dtype=float)
    if len(feature_rows.columns) > 1:
        joined = frame[["unit_id"]].merge(feature_rows, on="unit_id", how="left")
        for c in feature_rows.columns.drop("unit_id"):
            frame[c] = joined[c].to_numpy(dtype=float, na_value=np.nan)
    columns, names = [], []
    for c in frame.columns.drop("unit_id"):
        values = frame[c].to_numpy(dtype=float)
        missing = np.isnan(values)
        if missing.all():
            continue
        columns.append(np.where(missing, values[~missing].mean(), values))
        names.append(c)
        if missing.any():
            columns.append(missing.astype(float))
            names.append(f"{c} is missing")
    if not columns:
        return np.empty((len(pair), 0)), []
    z = np.column_stack(columns)
    z = z - z.mean(axis=0)
    kept = ~aliased_columns(np.column_stack([np.ones(len(z)), z]))[1:]
    return z[:, kept], [name for name, keep in zip(names, kept, strict=True) if keep]


def covariate_adjusted_effects(
    units: pd.DataFrame,
    experiments: pd.DataFrame,
    settings: RegressionSettings,
    fit_source: str,
    features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Lin's (2013) estimator: y on T, the centred covariates Z and T * Z, with robust errors.

    Z is the pre-period value `x` and the numeric columns of `features` (stg_hte_unit_features restricted to
    var hte_feature_columns). Centring Z at its pooled mean makes the T coefficient the average treatment
    effect; the interactions keep the adjustment from hurting precision when the arms' slopes differ
    (Freedman's critique of plain ANCOVA). Reported beside the unadjusted difference in means on the same
    units, as a standard-error reduction.
    """
    data = as_unit_cells(units)
    z_crit = stats.norm.ppf(1.0 - settings.alpha / 2.0)
    rows = []
    feature_rows = {}
    for comparison in comparisons(experiments, data):
        if comparison.experiment_id not in feature_rows:
            feature_rows[comparison.experiment_id] = feature_covariates(features, comparison.experiment_id)
        pair = data[
            (data["experiment_id"] == comparison.experiment_id)
            & (data["metric"] == comparison.metric)
            & data["arm"].isin([comparison.arm, comparison.control_arm])
        ]
        if pair.empty:
            continue
        z, names = covariate_matrix(pair, feature_rows[comparison.experiment_id])
        if not names:
            continue
        kwargs = covariance_kwargs(pair, settings)
        row = {**comparison.keys(), "model": "covariate_adjusted", "term": "treatment", "role": "treatment",
               "fit_source": fit_source, "n_units": len(pair), "cov_type": kwargs["cov_type"],
               "covariates": ", ".join(names)}  # fmt: skip
        t = (pair["arm"] == comparison.arm).to_numpy(dtype=float)
        y = pair["sum_y"].to_numpy(dtype=float)
        if t.min() == t.max() or np.ptp(y) == 0:
            row.update(status="not_estimable", reason=f"arm '{comparison.arm}' or control "
                       f"'{comparison.control_arm}' is empty, or metric '{comparison.metric}' is constant")  # fmt: skip
            rows.append(row)
            continue
        x = np.column_stack([np.ones_like(t), t, z, t[:, None] * z])
        # An interaction aliased with its covariate (a covariate that varies in one arm only) is dropped; the
        # treatment coefficient is still the average effect, as the centring is unchanged.
        x = x[:, ~aliased_columns(x)]
        if len(y) <= x.shape[1]:
            row.update(status="too_few_units", reason=f"{len(y)} units for {x.shape[1]} coefficients of the "
                       "covariate-adjusted model leave no residual degrees of freedom")  # fmt: skip
            rows.append(row)
            continue
        lin = sm.OLS(y, x).fit(**kwargs)
        plain = sm.OLS(y, x[:, :2]).fit(**kwargs)
        estimate, se, se0 = float(lin.params[1]), float(lin.bse[1]), float(plain.bse[1])
        if not (np.isfinite(se) and np.isfinite(se0)):
            row.update(status="leverage_one", reason=f"a unit alone determines a coefficient, so {kwargs['cov_type']} "
                       "is undefined; use HC0 or HC1")  # fmt: skip
            rows.append(row)
            continue
        row.update(
            estimate=estimate, std_error=se, ci_low=estimate - z_crit * se, ci_high=estimate + z_crit * se,
            p_value=float(2 * stats.norm.sf(abs(estimate) / se)), status="ok", reason=None,
            se_unadjusted=se0, se_reduction=1.0 - se / se0,
        )  # fmt: skip
        rows.append(row)
    return as_frame(rows, REGRESSION_COLUMNS)


def logit_segment_effects(
    units: pd.DataFrame,
    experiments: pd.DataFrame,
    dimensions: Sequence[str],
    settings: RegressionSettings,
    binary_metrics: Sequence[str],
    fit_source: str,
) -> pd.DataFrame:
    """Average marginal effect of treatment per segment from a logistic interaction model, per dimension.

    AME_s = mean over the segment's units of P(y=1 | T=1, x) - P(y=1 | T=0, x), with a delta-method standard
    error from the model's robust covariance (the same quantity statsmodels' get_margeff reports for a dummy).
    """
    data = as_unit_cells(units[units["metric"].isin(list(binary_metrics))])
    z = stats.norm.ppf(1.0 - settings.alpha / 2.0)
    rows = []
    for comparison in comparisons(experiments, data):
        exp = data[data["experiment_id"] == comparison.experiment_id]
        dims = experiment_dimensions(exp, dimensions)
        references, _ = reference_segments(exp, dims, settings.reference_segments)
        pair = exp[(exp["metric"] == comparison.metric) & exp["arm"].isin([comparison.arm, comparison.control_arm])]
        for d in dims:
            rows += logit_dimension_rows(pair, comparison, d, references, settings, z, fit_source)
    return as_frame(rows, REGRESSION_COLUMNS)


def logit_dimension_rows(
    pair, comparison: ComparisonKeys, dimension, references, settings, z, fit_source
) -> list[dict]:
    levels = {dimension: tuple(sorted(pair[dimension].unique(), key=str))}
    design = interaction_design(levels, {dimension: references[dimension]})
    treated = (pair["arm"] == comparison.arm).to_numpy()
    x = design.matrix(treated, pair)
    y = pair["sum_y"].to_numpy(dtype=float)
    base = {**comparison.keys(), "model": "logit_marginal", "dimension": dimension, "role": "segment_effect",
            "fit_source": fit_source, "n_units": len(pair)}  # fmt: skip
    # A segment in which the outcome never (or always) happens in an arm separates the data: the logit MLE
    # runs to infinity, so those segments are reported as not estimable instead of fitting a divergent model.
    rates = pair.assign(t=treated).groupby([dimension, "t"], observed=True)["sum_y"].agg(["mean", "size"])
    separated = {lv for (lv, _), r in rates.iterrows() if r["mean"] in (0.0, 1.0)}
    one_arm = {lv for lv in levels[dimension] if rates.loc[lv].shape[0] < 2}
    bad = separated | one_arm
    rows = []
    for lv in sorted(bad, key=str):
        why = (
            "has units in one arm only"
            if lv in one_arm
            else "has an outcome rate of exactly 0 or 1 in an arm (separation)"
        )
        reason = f"segment '{lv}' of dimension '{dimension}' {why}"
        rows.append({**base, "segment": lv, "term": f"ame:{dimension}={lv}", "status": "not_estimable",
                     "reason": reason, "cov_type": settings.cov_type})  # fmt: skip
    keep = ~pair[dimension].isin(bad).to_numpy()
    if keep.sum() == 0 or len(levels[dimension]) == len(bad):
        return rows
    x, y, fitted = x[keep], y[keep], pair[keep]
    columns = ~aliased_columns(x)
    x = x[:, columns]
    kwargs = covariance_kwargs(fitted, settings)
    fit = sm.Logit(y, x).fit(disp=0, **kwargs)
    # Every unit's design row with treatment switched on and off: the two counterfactual probabilities.
    x1 = design.matrix(np.ones(len(fitted)), fitted)[:, columns]
    x0 = design.matrix(np.zeros(len(fitted)), fitted)[:, columns]
    p1, p0 = fit.predict(x1), fit.predict(x0)
    cov = np.asarray(fit.cov_params())
    for lv in levels[dimension]:
        if lv in bad:
            continue
        inside = (fitted[dimension] == lv).to_numpy()
        ame = float(np.mean(p1[inside] - p0[inside]))
        gradient = ((p1 * (1 - p1))[inside, None] * x1[inside]).mean(axis=0) - (
            (p0 * (1 - p0))[inside, None] * x0[inside]
        ).mean(axis=0)
        se = float(np.sqrt(gradient @ cov @ gradient))
        p_value = float(2 * stats.norm.sf(abs(ame) / se))
        rows.append({**base, "segment": lv, "term": f"ame:{dimension}={lv}", "estimate": ame, "std_error": se,
                     "ci_low": ame - z * se, "ci_high": ame + z * se, "p_value": p_value,
                     "status": "ok", "reason": None, "cov_type": kwargs["cov_type"]})  # fmt: skip
    return rows
