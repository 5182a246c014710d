"""Independent pandas/scipy/statsmodels implementations of the SQL marts, written from the formulas.

Nothing here reads the SQL: every quantity is recomputed from the four input relations of the contract
(DESIGN.md) with unit rows, pandas' own variance/covariance (ddof 1), scipy distributions and statsmodels'
multiple-testing code. The tests compare the dbt tables against these frames column by column.

The formulas (as documented in models/marts/marts.yml):
- Welch: lift = ȳT − ȳC, se = sqrt(s²T/nT + s²C/nC), normal interval and two-sided normal p-value.
- Relative: ȳT/ȳC − 1 with delta-method se sqrt(var(ȳT)/ȳC² + ȳT²·var(ȳC)/ȳC⁴), var(ȳ) = s²/n.
- CUPED: θ = (S_xy,T + S_xy,C)/(S_xx,T + S_xx,C) with sums of products centred within each arm;
  lift = Δȳ − θ·Δx̄, se² = Σ_arms (s²_y − 2θ·s_xy + θ²·s²_x)/n.
- Differences: the segment's Welch lift minus the lift of the rest of its dimension, se in quadrature.
- Cochran's Q over the usable segments of a dimension; SRM and balance chi-square tests.

Conventions of the contract where the formulas leave a choice (marts.yml):
- A standard error of 0 (constant outcomes) is reported as 0, with no interval, p-value or verdict
  ('not_estimable'); a missing one (fewer than 2 units in an arm) is null.
- The overall row is never 'too_small', belongs to no family (family_size 1, p_value_adj = p_value); rows outside
  a family have no family_size and no p_value_adj.
- A chi-square check is 'info' (indicative p-value) when some cell expects fewer than 5 units; a balance table of
  a single level has no test; an arm without units is left out of the balance table.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

OVERALL = ("overall", "all")
MISSING = "(missing)"
OTHER = "(other)"
# statsmodels' names of the adjustments dbt_hte offers through var hte_p_adjust.
P_ADJUST_METHODS = {"holm": "holm", "bh": "fdr_bh", "bonferroni": "bonferroni"}
FAMILY_KEYS = {
    "experiment_metric_arm": ["experiment_id", "metric", "arm"],
    "experiment_metric_arm_dimension": ["experiment_id", "metric", "arm", "dimension"],
    "experiment": ["experiment_id"],
}
SEGMENT_KEYS = ["experiment_id", "metric", "dimension", "segment"]
LIFT_KEYS = SEGMENT_KEYS + ["arm"]


def demo_inputs() -> dict[str, pd.DataFrame]:
    """The demo input relations as the seed CSVs hold them (what dbt seeds into the warehouse)."""
    from dbt_runner import REPO

    seeds = REPO / "seeds" / "demo"
    return {
        name: pd.read_csv(seeds / f"hte_demo_{name}.csv", dtype={"unit_id": str, "experiment_id": str})
        for name in ("assignments", "unit_features", "outcomes", "experiments")
    }


# ---------------------------------------------------------------------------------------------------------------
# The unit table
# ---------------------------------------------------------------------------------------------------------------


def _as_segment(values: pd.Series) -> pd.Series:
    """Segment labels as strings; a null feature is its own level, '(missing)'; a real value that reads like a label
    once its double quotes are removed gets one more pair of them (macro hte_segment_value)."""
    out = values.astype(object).where(values.notna(), None)

    def label(v):
        if v is None:
            return MISSING
        text = str(v)
        return f'"{text}"' if text.replace('"', "") in (MISSING, OTHER) else text

    return pd.Series([label(v) for v in out], index=values.index, dtype=object)


def segment_levels(frames: dict[str, pd.DataFrame], segment_columns: list[str], max_levels: int) -> pd.DataFrame:
    """experiment × dimension × raw level: unit counts, the folding of rare levels, whether observed."""
    units = _assigned_features(frames)
    rows = []
    for dimension in segment_columns:
        labelled = units[["experiment_id"]].assign(dimension=dimension, raw_segment=_as_segment(units[dimension]))
        counted = labelled.groupby(["experiment_id", "dimension", "raw_segment"]).size().rename("n_units").reset_index()
        rows.append(counted)
    levels = pd.concat(rows, ignore_index=True)
    levels["is_missing"] = levels["raw_segment"] == MISSING
    # Largest levels first; ties broken by the label so the folding is reproducible; '(missing)' ranks last.
    levels = levels.sort_values(
        ["experiment_id", "dimension", "is_missing", "n_units", "raw_segment"],
        ascending=[True, True, True, False, True],
        kind="stable",
    )
    levels["level_rank"] = levels.groupby(["experiment_id", "dimension"]).cumcount() + 1
    levels["is_folded"] = ~levels["is_missing"] & (levels["level_rank"] > max_levels)
    levels["segment"] = np.where(levels["is_folded"], OTHER, levels["raw_segment"])
    observed = levels.groupby(["experiment_id", "dimension"])["is_missing"].transform(lambda m: (~m).any())
    levels["is_observed"] = observed.astype(bool)
    return levels.drop(columns="is_missing").reset_index(drop=True)


def _assigned_features(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    assignments = frames["assignments"][["experiment_id", "unit_id", "arm"]].astype(
        {"unit_id": str, "experiment_id": str, "arm": str}
    )
    features = frames["unit_features"].copy()
    features["unit_id"] = features["unit_id"].astype(str)
    if "experiment_id" in features.columns and features["experiment_id"].notna().all():
        features["experiment_id"] = features["experiment_id"].astype(str)
        return assignments.merge(features, on=["experiment_id", "unit_id"], how="inner", validate="one_to_one")
    # Features without an experiment apply to every experiment the unit is in.
    features = features.drop(columns=["experiment_id"], errors="ignore")
    return assignments.merge(features, on="unit_id", how="inner", validate="many_to_one")


def unit_table(
    frames: dict[str, pd.DataFrame], segment_columns: list[str], metrics: list[str], max_levels: int = 20
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per experiment × unit × metric of the experiment, with y, x and the folded segment labels.

    Returns (units, levels). A unit with no outcome row counts as y = 0 (and x = 0 when the metric has a
    pre-period); a metric belongs to an experiment that has at least one outcome row for it.
    """
    levels = segment_levels(frames, segment_columns, max_levels)
    units = _assigned_features(frames)
    for dimension in segment_columns:
        raw = _as_segment(units[dimension])
        mapping = levels[levels["dimension"] == dimension].set_index(["experiment_id", "raw_segment"])["segment"]
        keys = pd.MultiIndex.from_arrays([units["experiment_id"], raw])
        units[f"seg__{dimension}"] = mapping.reindex(keys).to_numpy()
    units = units[["experiment_id", "unit_id", "arm"] + [f"seg__{d}" for d in segment_columns]]

    outcomes = frames["outcomes"].copy()
    outcomes["unit_id"] = outcomes["unit_id"].astype(str)
    outcomes = outcomes[outcomes["metric"].isin(metrics)]
    if "pre_value" not in outcomes.columns:
        outcomes["pre_value"] = np.nan
    has_pre = (
        outcomes.groupby(["experiment_id", "metric"])["pre_value"]
        .agg(lambda s: bool(s.notna().all()))
        .rename("has_pre_period")
        .reset_index()
    )
    expanded = units.merge(has_pre, on="experiment_id", how="inner")
    expanded = expanded.merge(
        outcomes[["experiment_id", "unit_id", "metric", "value", "pre_value"]],
        on=["experiment_id", "unit_id", "metric"],
        how="left",
        validate="one_to_one",
    )
    expanded["y"] = expanded["value"].fillna(0.0).astype(float)
    expanded["x"] = np.where(expanded["has_pre_period"], expanded["pre_value"].fillna(0.0), np.nan).astype(float)
    return expanded.drop(columns=["value", "pre_value"]), levels


def long_segments(units: pd.DataFrame, levels: pd.DataFrame, segment_columns: list[str]) -> pd.DataFrame:
    """The unit table once per dimension the experiment observes, plus once as dimension 'overall'."""
    observed = levels.loc[levels["is_observed"], ["experiment_id", "dimension"]].drop_duplicates()
    parts = [units.assign(dimension=OVERALL[0], segment=OVERALL[1])]
    for dimension in segment_columns:
        keep = units["experiment_id"].isin(observed.loc[observed["dimension"] == dimension, "experiment_id"])
        parts.append(units[keep].assign(dimension=dimension, segment=units.loc[keep, f"seg__{dimension}"]))
    columns = ["experiment_id", "unit_id", "arm", "metric", "dimension", "segment", "y", "x", "has_pre_period"]
    return pd.concat([p[columns] for p in parts], ignore_index=True)


# ---------------------------------------------------------------------------------------------------------------
# hte_segment_stats
# ---------------------------------------------------------------------------------------------------------------


def segment_stats(long: pd.DataFrame) -> pd.DataFrame:
    g = long.assign(y2=long["y"] ** 2, x2=long["x"] ** 2, xy=long["x"] * long["y"]).groupby(LIFT_KEYS, sort=True)
    out = g.agg(
        n=("y", "size"),
        sum_y=("y", "sum"),
        sum_y2=("y2", "sum"),
        sum_x=("x", "sum"),
        sum_x2=("x2", "sum"),
        sum_xy=("xy", "sum"),
        has_pre_period=("has_pre_period", "all"),
        mean_y=("y", "mean"),
        var_y=("y", "var"),
        distinct_y=("y", "nunique"),
    )
    out = out.reset_index()
    out.loc[(out["distinct_y"] == 1) & (out["n"] > 1), "var_y"] = 0.0
    out = out.drop(columns="distinct_y")
    for column in ("sum_x", "sum_x2", "sum_xy"):
        out[column] = out[column].where(out["has_pre_period"])
    return out


# ---------------------------------------------------------------------------------------------------------------
# Arm summaries and the Welch comparison
# ---------------------------------------------------------------------------------------------------------------


def arm_summaries(long: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per key × arm: n, means, ddof-1 variances of y and x and their ddof-1 covariance (pandas)."""
    long = long.copy()
    group_keys = keys + ["arm"]
    for column in ("x", "y"):
        long[f"d{column}"] = long[column] - long.groupby(group_keys, sort=False)[column].transform("mean")
    long["dxdy"] = long["dx"] * long["dy"]
    g = long.groupby(group_keys, sort=True)
    out = g.agg(
        n=("y", "size"), mean_y=("y", "mean"), var_y=("y", "var"), mean_x=("x", "mean"), var_x=("x", "var")
    )  # pandas' var is ddof 1
    out["cov_xy"] = (g["dxdy"].sum(min_count=1) / (out["n"] - 1)).where(out["n"] > 1)
    # A constant column has variance exactly 0; pandas' two-pass variance of e.g. 0.1 repeated is ~1e-34,
    # which would turn a not-estimable comparison into an absurdly significant one.
    y_const = (g["y"].nunique() == 1) & (out["n"] > 1)
    x_const = (g["x"].nunique() == 1) & (out["n"] > 1)
    out.loc[y_const, "var_y"] = 0.0
    out.loc[x_const, "var_x"] = 0.0
    out.loc[(y_const | x_const) & out["cov_xy"].notna(), "cov_xy"] = 0.0
    out["has_pre_period"] = g["has_pre_period"].all()
    return out.reset_index()


def pair_with_control(summaries: pd.DataFrame, experiments: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Each treatment arm's summary beside the control's for the same keys (n = 0 where an arm has no units)."""
    arms = experiments[["experiment_id", "arm", "is_control"]].copy()
    arms["is_control"] = arms["is_control"].astype(str).str.lower().isin(["true", "1"])
    control = arms[arms["is_control"]].rename(columns={"arm": "control_arm"})[["experiment_id", "control_arm"]]
    treated = arms[~arms["is_control"]][["experiment_id", "arm"]]
    present = summaries[keys].drop_duplicates()
    grid = present.merge(treated, on="experiment_id").merge(control, on="experiment_id")
    t = summaries.rename(columns={c: f"{c}_t" for c in summaries.columns if c not in keys + ["arm"]})
    c = summaries.rename(columns={c: f"{c}_c" for c in summaries.columns if c not in keys + ["arm"]})
    c = c.rename(columns={"arm": "control_arm"})
    out = grid.merge(t, on=keys + ["arm"], how="left").merge(c, on=keys + ["control_arm"], how="left")
    out["n_t"] = out["n_t"].fillna(0).astype(int)
    out["n_c"] = out["n_c"].fillna(0).astype(int)
    return out


def welch(pairs: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Absolute lift, its Welch se, interval and p; null se (and p) when an arm has fewer than 2 units or se = 0."""
    z_crit = stats.norm.ppf(1 - alpha / 2)
    lift = pairs["mean_y_t"] - pairs["mean_y_c"]
    se = np.sqrt(pairs["var_y_t"] / pairs["n_t"] + pairs["var_y_c"] / pairs["n_c"])
    se = se.where((pairs["n_t"] >= 2) & (pairs["n_c"] >= 2))
    # se = 0 (constant outcomes in both arms) is reported as 0, but there is no interval and no p-value.
    positive = se > 0
    p = pd.Series(2 * stats.norm.sf(np.abs(lift / se)), index=pairs.index).where(positive)
    return pd.DataFrame(
        {
            "lift": lift,
            "se": se,
            "ci_low": (lift - z_crit * se).where(positive),
            "ci_high": (lift + z_crit * se).where(positive),
            "p": p,
        },
        index=pairs.index,
    )


@contextlib.contextmanager
def without_gc_collect():
    # statsmodels' Holm branch calls gc.collect() on every call (statsmodels/stats/multitest.py), which takes
    # ~0.2 s in a process that holds the demo's frames: hundreds of families would cost minutes. The adjusted
    # values are untouched by this.
    collect = gc.collect
    gc.collect = lambda *args, **kwargs: 0
    try:
        yield
    finally:
        gc.collect = collect


def adjust(frame: pd.DataFrame, p_col: str, in_family: pd.Series, family_keys: list[str], method: str) -> pd.Series:
    """statsmodels' multipletests within each family; null outside the family."""
    out = pd.Series(np.nan, index=frame.index)
    members = frame[in_family]
    with without_gc_collect():
        for _, group in members.groupby(family_keys, sort=False):
            out.loc[group.index] = multipletests(group[p_col].to_numpy(), method=P_ADJUST_METHODS[method])[1]
    return out


def family_size(frame: pd.DataFrame, in_family: pd.Series, family_keys: list[str]) -> pd.Series:
    sizes = frame[in_family].groupby(family_keys).size().rename("family_size").reset_index()
    size = frame[family_keys].merge(sizes, on=family_keys, how="left")["family_size"].set_axis(frame.index)
    # Rows outside the family (too small, not estimable) have no family size.
    return size.where(in_family)


def verdict(too_small: pd.Series, p: pd.Series, p_adj: pd.Series, estimate: pd.Series, alpha: float) -> pd.Series:
    significant = p_adj < alpha
    return pd.Series(
        np.select(
            [too_small, p.isna(), significant & (estimate > 0), significant & (estimate < 0)],
            ["too_small", "not_estimable", "positive", "negative"],
            default="inconclusive",
        ),
        index=p.index,
    )


# ---------------------------------------------------------------------------------------------------------------
# hte_segment_lifts
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Testing:
    """The marts' multiple-testing settings (vars hte_alpha, hte_min_segment_size, hte_p_adjust,
    hte_p_adjust_family) and the two steps every tested table shares: adjusting its family, then its verdicts."""

    alpha: float = 0.05
    min_size: int = 100
    method: str = "holm"
    family: str = "experiment_metric_arm"

    @property
    def z_critical(self) -> float:
        return stats.norm.ppf(1 - self.alpha / 2)

    def adjust(self, out: pd.DataFrame, in_family: pd.Series) -> None:
        """p_value_adj and family_size of the rows `in_family`, per family."""
        out["p_value_adj"] = adjust(out, "p_value", in_family, FAMILY_KEYS[self.family], self.method)
        out["family_size"] = family_size(out, in_family, FAMILY_KEYS[self.family])

    def conclude(self, out: pd.DataFrame, effect: str) -> None:
        """Each row's verdict on column `effect`, and the alpha and critical z it was reached with."""
        out["verdict"] = verdict(out["is_too_small"], out["p_value"], out["p_value_adj"], out[effect], self.alpha)
        out["alpha"], out["z_critical"] = self.alpha, self.z_critical


DEFAULT_TESTING = Testing()


def segment_lifts(
    long: pd.DataFrame,
    experiments: pd.DataFrame,
    testing: Testing = DEFAULT_TESTING,
) -> pd.DataFrame:
    alpha, z_crit = testing.alpha, testing.z_critical
    pairs = pair_with_control(arm_summaries(long, SEGMENT_KEYS), experiments, SEGMENT_KEYS)
    w = welch(pairs, alpha)
    out = pairs[LIFT_KEYS + ["control_arm"]].copy()
    out["n_treatment"], out["n_control"] = pairs["n_t"], pairs["n_c"]
    out["mean_treatment"], out["mean_control"] = pairs["mean_y_t"], pairs["mean_y_c"]
    out["lift_abs"], out["lift_abs_se"] = w["lift"], w["se"]
    out["lift_abs_ci_low"], out["lift_abs_ci_high"], out["p_value"] = w["ci_low"], w["ci_high"], w["p"]

    mt, mc = pairs["mean_y_t"], pairs["mean_y_c"]
    defined = mc != 0
    rel = (mt / mc - 1).where(defined)
    rel_se = np.sqrt(pairs["var_y_t"] / pairs["n_t"] / mc**2 + mt**2 * (pairs["var_y_c"] / pairs["n_c"]) / mc**4)
    rel_se = rel_se.where(defined & w["se"].notna())
    out["lift_rel"], out["lift_rel_se"] = rel, rel_se
    # The delta-method se is 0 when the treatment arm is all zeros: no interval then either.
    out["lift_rel_ci_low"] = (rel - z_crit * rel_se).where(rel_se > 0)
    out["lift_rel_ci_high"] = (rel + z_crit * rel_se).where(rel_se > 0)

    # CUPED from pandas' per-arm (co)variances: S_xy = (n − 1)·cov, S_xx = (n − 1)·var.
    sxx = (pairs["n_t"] - 1) * pairs["var_x_t"] + (pairs["n_c"] - 1) * pairs["var_x_c"]
    sxy = (pairs["n_t"] - 1) * pairs["cov_xy_t"] + (pairs["n_c"] - 1) * pairs["cov_xy_c"]
    has_pre = pairs["has_pre_period_t"].fillna(False).astype(bool) & pairs["has_pre_period_c"].fillna(False).astype(
        bool
    )
    cuped_ok = has_pre & (sxx > 0) & w["se"].notna()
    theta = (sxy / sxx).where(cuped_ok)
    lift_cuped = (w["lift"] - theta * (pairs["mean_x_t"] - pairs["mean_x_c"])).where(cuped_ok)

    def adjusted_variance(arm):
        # An exact linear fit (residual below 1e-10 of its terms' scale) is exactly 0, as the SQL macro
        # hte_adjusted_variance rules: what is left there is rounding noise.
        var_y, cov_xy, var_x = pairs[f"var_y_{arm}"], pairs[f"cov_xy_{arm}"], pairs[f"var_x_{arm}"]
        residual = var_y - 2 * theta * cov_xy + theta**2 * var_x
        return residual.where(residual > 1e-10 * (var_y + theta**2 * var_x), 0.0) / pairs[f"n_{arm}"]

    var_t, var_c = adjusted_variance("t"), adjusted_variance("c")
    cuped_se = np.sqrt(var_t + var_c).where(cuped_ok)
    out["cuped_theta"], out["lift_cuped"], out["lift_cuped_se"] = theta, lift_cuped, cuped_se
    out["lift_cuped_ci_low"] = (lift_cuped - z_crit * cuped_se).where(cuped_se > 0)
    out["lift_cuped_ci_high"] = (lift_cuped + z_crit * cuped_se).where(cuped_se > 0)
    out["lift_cuped_p_value"] = pd.Series(2 * stats.norm.sf(np.abs(lift_cuped / cuped_se)), index=out.index).where(
        cuped_se > 0
    )
    out["cuped_variance_reduction"] = (1 - cuped_se**2 / w["se"] ** 2).where(w["se"] > 0)

    is_overall = (out["dimension"] == OVERALL[0]) & (out["segment"] == OVERALL[1])
    # hte_min_segment_size is a minimum for segments: the overall row, the primary pre-specified test, is
    # never too small, belongs to no family (a family of one) and its adjusted p-value is its p-value.
    out["is_too_small"] = ~is_overall & (np.minimum(out["n_treatment"], out["n_control"]) < testing.min_size)
    testing.adjust(out, in_family=~is_overall & ~out["is_too_small"] & out["p_value"].notna())
    out.loc[is_overall, "p_value_adj"] = out.loc[is_overall, "p_value"]
    out.loc[is_overall & out["p_value"].notna(), "family_size"] = 1
    testing.conclude(out, "lift_abs")
    return out.sort_values(LIFT_KEYS).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------------
# hte_segment_differences
# ---------------------------------------------------------------------------------------------------------------


def segment_differences(
    long: pd.DataFrame,
    experiments: pd.DataFrame,
    testing: Testing = DEFAULT_TESTING,
) -> pd.DataFrame:
    """Each segment's Welch lift against the lift of every other unit of the same experiment (its dimension's rest)."""
    segmented = long[long["dimension"] != OVERALL[0]]
    inside = pair_with_control(arm_summaries(segmented, SEGMENT_KEYS), experiments, SEGMENT_KEYS)
    # The rest of a segment: the dimension's other units, i.e. the experiment's units minus the segment's.
    # Every unit row is copied once for each other segment of its dimension, as a member of that segment's rest.
    segments = segmented[["experiment_id", "metric", "dimension", "segment"]].drop_duplicates()
    copies = segmented.merge(
        segments.rename(columns={"segment": "rest_of"}), on=["experiment_id", "metric", "dimension"]
    )
    rest_units = (
        copies[copies["segment"] != copies["rest_of"]].drop(columns="segment").rename(columns={"rest_of": "segment"})
    )
    keys = LIFT_KEYS + ["control_arm"]
    inside = inside.set_index(keys)
    # A dimension with a single level has no rest: its rows keep n = 0 there and no estimate.
    rest = pair_with_control(arm_summaries(rest_units, SEGMENT_KEYS), experiments, SEGMENT_KEYS)
    rest = rest.set_index(keys).reindex(inside.index)
    rest["n_t"], rest["n_c"] = rest["n_t"].fillna(0).astype(int), rest["n_c"].fillna(0).astype(int)
    inside, rest = inside.reset_index(), rest.reset_index()
    out = inside

    z_crit = testing.z_critical
    w_in, w_rest = welch(inside, testing.alpha), welch(rest, testing.alpha)
    res = out[LIFT_KEYS + ["control_arm"]].copy()
    res["n_segment_treatment"], res["n_segment_control"] = inside["n_t"], inside["n_c"]
    res["n_rest_treatment"], res["n_rest_control"] = rest["n_t"], rest["n_c"]
    res["lift_segment"], res["lift_rest"] = w_in["lift"], w_rest["lift"]
    res["lift_segment_se"], res["lift_rest_se"] = w_in["se"], w_rest["se"]
    res["difference"] = w_in["lift"] - w_rest["lift"]
    se = np.sqrt(w_in["se"] ** 2 + w_rest["se"] ** 2)
    res["difference_se"] = se
    res["difference_ci_low"], res["difference_ci_high"] = (
        res["difference"] - z_crit * se,
        res["difference"] + z_crit * se,
    )
    res["p_value"] = pd.Series(2 * stats.norm.sf(np.abs(res["difference"] / se)), index=res.index).where(se > 0)
    res["difference_ci_low"] = res["difference_ci_low"].where(se > 0)
    res["difference_ci_high"] = res["difference_ci_high"].where(se > 0)
    res["is_too_small"] = (np.minimum(res["n_segment_treatment"], res["n_segment_control"]) < testing.min_size) | (
        np.minimum(res["n_rest_treatment"], res["n_rest_control"]) < testing.min_size
    )
    testing.adjust(res, in_family=~res["is_too_small"] & res["p_value"].notna())
    testing.conclude(res, "difference")
    return res.sort_values(LIFT_KEYS).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------------
# hte_dimension_tests
# ---------------------------------------------------------------------------------------------------------------


def dimension_tests(lifts: pd.DataFrame, *, method: str = "holm") -> pd.DataFrame:
    """Cochran's Q that the usable segment lifts of a dimension are equal (reference lifts as input)."""
    seg = lifts[lifts["dimension"] != OVERALL[0]]
    rows = []
    for (experiment_id, metric, arm, control_arm, dimension), group in seg.groupby(
        ["experiment_id", "metric", "arm", "control_arm", "dimension"], sort=True
    ):
        usable = group[~group["is_too_small"] & group["p_value"].notna()]
        k = len(usable)
        row = {
            "experiment_id": experiment_id,
            "metric": metric,
            "arm": arm,
            "control_arm": control_arm,
            "dimension": dimension,
            "test": "cochran_q",
            "n_segments": k,
        }
        if k >= 2:
            w = 1 / usable["lift_abs_se"] ** 2
            pooled = (w * usable["lift_abs"]).sum() / w.sum()
            q = (w * (usable["lift_abs"] - pooled) ** 2).sum()
            df = k - 1
            row.update(
                statistic=q,
                df=df,
                p_value=stats.chi2.sf(q, df),
                pooled_lift=pooled,
                i_squared=max(0.0, (q - df) / q) if q > 0 else 0.0,
                status="ok",
            )
        else:
            # One usable segment: its own lift is the pooled lift, but there is nothing to compare it with.
            pooled = usable["lift_abs"].iloc[0] if k == 1 else np.nan
            row.update(
                statistic=np.nan,
                df=np.nan,
                p_value=np.nan,
                pooled_lift=pooled,
                i_squared=np.nan,
                status="not_estimable",
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    out["p_value_adj"] = adjust(out, "p_value", out["status"] == "ok", ["experiment_id", "metric", "arm"], method)
    return out


# ---------------------------------------------------------------------------------------------------------------
# hte_checks
# ---------------------------------------------------------------------------------------------------------------


def checks(
    frames: dict[str, pd.DataFrame],
    units: pd.DataFrame,
    levels: pd.DataFrame,
    segment_columns: list[str],
    *,
    min_size: int = 100,
    alert_p: float = 0.001,
    feature_columns: list[str] = (),
    metrics: list[str] = (),
) -> pd.DataFrame:
    """SRM overall and per segment (scipy.stats.chisquare), balance (chi2_contingency without correction),
    minimum sizes, folded and unobserved dimensions; configured columns and metrics with no data anywhere."""
    experiments = frames["experiments"]
    assignments = frames["assignments"]
    rows = []

    def srm_row(check, experiment_id, dimension, segment, counts):
        shares = counts["expected_share"].to_numpy(float)
        observed = counts["n"].to_numpy(float)
        expected = observed.sum() * shares / shares.sum()
        statistic, p = stats.chisquare(observed, expected)
        # Cochran's rule: with an expected count under 5 the chi-square approximation is only indicative.
        indicative = expected.min() < 5
        return {
            "experiment_id": experiment_id,
            "check_name": check,
            "dimension": dimension,
            "segment": segment,
            "statistic": statistic,
            "df": len(observed) - 1,
            "p_value": p,
            "indicative": indicative,
        }

    for experiment_id, declared in experiments.groupby("experiment_id", sort=True):
        declared = declared[["arm", "expected_share"]]
        n = assignments[assignments["experiment_id"] == experiment_id].groupby("arm").size().rename("n")
        counts = declared.merge(n, left_on="arm", right_index=True, how="left").fillna({"n": 0})
        rows.append(srm_row("sample_ratio_mismatch", experiment_id, None, None, counts))

        one_metric = units[units["experiment_id"] == experiment_id]
        if one_metric.empty:
            continue
        one_metric = one_metric[one_metric["metric"] == one_metric["metric"].iloc[0]]
        observed_dims = levels[(levels["experiment_id"] == experiment_id) & levels["is_observed"]]["dimension"].unique()
        for dimension in segment_columns:
            if dimension not in observed_dims:
                continue
            table = (
                one_metric.groupby([f"seg__{dimension}", "arm"])
                .size()
                .unstack("arm")
                .reindex(columns=declared["arm"])
                .fillna(0)
            )
            for segment, by_arm in table.iterrows():
                seg_counts = declared.assign(n=by_arm.reindex(declared["arm"]).to_numpy())
                rows.append(srm_row("sample_ratio_mismatch_segment", experiment_id, dimension, segment, seg_counts))
                if by_arm.min() < min_size:
                    rows.append(
                        {
                            "experiment_id": experiment_id,
                            "check_name": "minimum_segment_size",
                            "dimension": dimension,
                            "segment": segment,
                            "statistic": by_arm.min(),
                            "df": np.nan,
                            "p_value": np.nan,
                        }
                    )
            # An arm that received no unit is no evidence about balance (the SRM check reports it): test the arms
            # that have units.
            observed_table = table.loc[:, table.sum(axis=0) > 0].to_numpy()
            statistic, p, dof, expected = stats.chi2_contingency(observed_table, correction=False)
            # A single observed level (df 0) leaves nothing to test: scipy's p = 1 is not a test result.
            p = p if dof > 0 else np.nan
            rows.append(
                {
                    "experiment_id": experiment_id,
                    "check_name": "covariate_balance",
                    "dimension": dimension,
                    "segment": None,
                    "statistic": statistic,
                    "df": dof,
                    "p_value": p,
                    "indicative": expected.min() < 5,
                }
            )

    for (experiment_id, dimension), group in levels.groupby(["experiment_id", "dimension"], sort=True):
        if not group["is_observed"].any():
            rows.append(
                {
                    "experiment_id": experiment_id,
                    "check_name": "dimension_not_observed",
                    "dimension": dimension,
                    "segment": None,
                    "statistic": np.nan,
                    "df": np.nan,
                    "p_value": np.nan,
                }
            )
        elif group["is_folded"].any():
            # statistic: how many levels were folded into '(other)'.
            rows.append(
                {
                    "experiment_id": experiment_id,
                    "check_name": "dimension_folded",
                    "dimension": dimension,
                    "segment": OTHER,
                    "statistic": float(group["is_folded"].sum()),
                    "df": np.nan,
                    "p_value": np.nan,
                }
            )
    # Configuration typos: a configured column without a value for any assigned unit, a configured metric without
    # any outcome row, each an alert on every declared experiment.
    assigned = _assigned_features(frames)
    columns = list(
        dict.fromkeys(
            list(segment_columns)
            + [c for c in feature_columns if c.lower() not in {s.lower() for s in segment_columns}]
        )
    )
    missing_metrics = sorted(set(metrics) - set(frames["outcomes"]["metric"]))
    for experiment_id in sorted(experiments["experiment_id"].unique()):
        for column in columns:
            if column in assigned.columns and assigned[column].notna().sum() == 0:
                rows.append(
                    {
                        "experiment_id": experiment_id,
                        "check_name": "column_not_observed",
                        "dimension": column,
                        "segment": None,
                        "statistic": np.nan,
                        "df": np.nan,
                        "p_value": np.nan,
                        "alert": True,
                    }
                )
        if missing_metrics:
            rows.append(
                {
                    "experiment_id": experiment_id,
                    "check_name": "metric_not_observed",
                    "dimension": None,
                    "segment": None,
                    "statistic": float(len(missing_metrics)),
                    "df": np.nan,
                    "p_value": np.nan,
                    "alert": True,
                }
            )
    out = pd.DataFrame(rows)
    tested = out["p_value"].notna() & ~out["indicative"].fillna(False).astype(bool)
    out["status"] = np.where(tested, np.where(out["p_value"] < alert_p, "alert", "pass"), "info")
    if "alert" in out.columns:
        out.loc[out.pop("alert").fillna(False).astype(bool), "status"] = "alert"
    return out


# ---------------------------------------------------------------------------------------------------------------
# Comparing a dbt table with a reference frame
# ---------------------------------------------------------------------------------------------------------------


def compare(
    actual: pd.DataFrame,
    expected: pd.DataFrame,
    keys: list[str],
    columns: dict[str, tuple | None],
    *,
    label: str,
) -> list[str]:
    """Differences between two frames as sentences (empty when they agree).

    `columns` maps a column to (rtol, atol) for floats, (rtol, factor, column) for a floor of factor × that
    reference column squared (VARIANCE), or None for exact equality (counts, labels). Both frames must hold the
    same keys; a null must face a null.
    """
    problems = []
    a = actual.copy()
    e = expected.copy()
    for k in keys:
        a[k] = a[k].astype(object).where(a[k].notna(), None)
        e[k] = e[k].astype(object).where(e[k].notna(), None)
    merged = a.merge(e, on=keys, how="outer", suffixes=("_sql", "_ref"), indicator=True)
    only_sql = merged[merged["_merge"] == "left_only"][keys]
    only_ref = merged[merged["_merge"] == "right_only"][keys]
    if len(only_sql):
        problems.append(f"{label}: {len(only_sql)} rows only in dbt, e.g. {only_sql.head(5).to_dict('records')}")
    if len(only_ref):
        problems.append(
            f"{label}: {len(only_ref)} rows only in the reference, e.g. {only_ref.head(5).to_dict('records')}"
        )
    both = merged[merged["_merge"] == "both"]
    for column, tolerance in columns.items():
        got, want = both[f"{column}_sql"], both[f"{column}_ref"]
        if tolerance is None:
            g = got.astype(object).where(got.notna(), None)
            w = want.astype(object).where(want.notna(), None)
            if pd.api.types.is_numeric_dtype(want) and pd.api.types.is_numeric_dtype(got):
                bad = ~((got.isna() & want.isna()) | (got.astype(float) == want.astype(float)))
            else:
                bad = ~((got.isna() & want.isna()) | (g.astype(str) == w.astype(str)))
        else:
            rtol, atol, *scale = tolerance
            g, w = got.astype(float).to_numpy(), want.astype(float).to_numpy()
            if scale:  # a floor relative to the square of another column, where the truth is not 0 (VARIANCE)
                atol = np.where(w > 0, atol * both[f"{scale[0]}_ref"].astype(float).to_numpy() ** 2, 0.0)
            bad = pd.Series(~(np.isclose(g, w, rtol=rtol, atol=atol) | (np.isnan(g) & np.isnan(w))), index=both.index)
        if bad.any():
            sample = both.loc[bad, keys + [f"{column}_sql", f"{column}_ref"]].head(5).to_dict("records")
            problems.append(f"{label}.{column}: {int(bad.sum())} of {len(both)} rows differ, e.g. {sample}")
    return problems


# ---------------------------------------------------------------------------------------------------------------
# The demo, computed once per session
# ---------------------------------------------------------------------------------------------------------------


def project_vars() -> dict:
    """The package defaults of dbt_project.yml (what the demo build uses)."""
    import yaml

    from dbt_runner import REPO

    return yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]["dbt_hte"]


_DEMO: dict[str, pd.DataFrame] = {}


def demo_reference() -> dict[str, pd.DataFrame]:
    """Every reference table of the demo under the project's default vars (computed on first use)."""
    if not _DEMO:
        _DEMO.update(reference_tables(demo_inputs(), project_vars()))
    return _DEMO


def reference_tables(frames: dict[str, pd.DataFrame], config: dict) -> dict[str, pd.DataFrame]:
    segment_columns = list(config["hte_segment_columns"])
    min_size = int(config["hte_min_segment_size"])
    testing = Testing(
        alpha=float(config["hte_alpha"]),
        min_size=min_size,
        method=config["hte_p_adjust"],
        family=config.get("hte_p_adjust_family", "experiment_metric_arm"),
    )
    units, levels = unit_table(
        frames, segment_columns, list(config["hte_metrics"]), int(config.get("hte_max_segments_per_dimension", 20))
    )
    long = long_segments(units, levels, segment_columns)
    lifts = segment_lifts(long, frames["experiments"], testing)
    return {
        "units": units,
        "levels": levels,
        "long": long,
        "hte_segment_stats": segment_stats(long),
        "hte_segment_lifts": lifts,
        "hte_segment_differences": segment_differences(long, frames["experiments"], testing),
        "hte_dimension_tests": dimension_tests(lifts, method=testing.method),
        "hte_checks": checks(
            frames,
            units,
            levels,
            segment_columns,
            min_size=min_size,
            alert_p=float(config.get("hte_check_alert_p", 0.001)),
            feature_columns=list(config.get("hte_feature_columns", [])),
            metrics=list(config["hte_metrics"]),
        ),
    }


# ---------------------------------------------------------------------------------------------------------------
# Tolerances and the columns each mart is compared on
# ---------------------------------------------------------------------------------------------------------------

RTOL = 1e-9
# Positive quantities (standard errors, p-values, variances away from 0): relative error only, so a p-value of
# 1e-18 is still checked to 9 digits.
POSITIVE = (RTOL, 0.0)
# Signed quantities that can be differences of nearly equal numbers (lifts, interval ends, sums that cancel):
# their rounding error is absolute, about 1e-16 times the size of the data, so a floor of 1e-12 (data of order
# 1 to 1e3) is added.
SIGNED = (RTOL, 1e-12)
EXACT = None

# A variance is never negative and is exactly 0 for a constant arm: where the truth is 0 it is compared with no
# floor, so a cancellation residue such as 1e-18 (or -3e-17) is an error. Elsewhere the SQL computes it from sums
# (Σy² − (Σy)²/n), whose rounding error is absolute, about 1e-16 × mean²: two units of 25.00 and 25.01 have the
# variance 5e-5 to 1.4e-9 relative, so a floor of 1e-13 × mean_y² is added there.
VARIANCE = (RTOL, 1e-13, "mean_y")
STATS_COLUMNS = {
    "n": EXACT,
    "sum_y": SIGNED,
    "sum_y2": SIGNED,
    "sum_x": SIGNED,
    "sum_x2": SIGNED,
    "sum_xy": SIGNED,
    "has_pre_period": EXACT,
    "mean_y": SIGNED,
    "var_y": VARIANCE,
}
# The columns of a tested row (Testing.adjust and Testing.conclude), in the lifts and the differences alike.
TESTED_COLUMNS = {
    "p_value": POSITIVE,
    "p_value_adj": POSITIVE,
    "is_too_small": EXACT,
    "family_size": EXACT,
    "verdict": EXACT,
    "alpha": EXACT,
    "z_critical": POSITIVE,
}
LIFT_COLUMNS = {
    "control_arm": EXACT,
    "n_treatment": EXACT,
    "n_control": EXACT,
    "mean_treatment": SIGNED,
    "mean_control": SIGNED,
    "lift_abs": SIGNED,
    "lift_abs_se": POSITIVE,
    "lift_abs_ci_low": SIGNED,
    "lift_abs_ci_high": SIGNED,
    "lift_rel": SIGNED,
    "lift_rel_se": POSITIVE,
    "lift_rel_ci_low": SIGNED,
    "lift_rel_ci_high": SIGNED,
    "cuped_theta": SIGNED,
    "lift_cuped": SIGNED,
    "lift_cuped_se": POSITIVE,
    "lift_cuped_ci_low": SIGNED,
    "lift_cuped_ci_high": SIGNED,
    "lift_cuped_p_value": POSITIVE,
    "cuped_variance_reduction": SIGNED,
    **TESTED_COLUMNS,
}
DIFFERENCE_COLUMNS = {
    "control_arm": EXACT,
    "n_segment_treatment": EXACT,
    "n_segment_control": EXACT,
    "n_rest_treatment": EXACT,
    "n_rest_control": EXACT,
    "lift_segment": SIGNED,
    "lift_rest": SIGNED,
    "lift_segment_se": POSITIVE,
    "lift_rest_se": POSITIVE,
    "difference": SIGNED,
    "difference_se": POSITIVE,
    "difference_ci_low": SIGNED,
    "difference_ci_high": SIGNED,
    **TESTED_COLUMNS,
}
DIMENSION_TEST_KEYS = ["experiment_id", "metric", "arm", "dimension"]
DIMENSION_TEST_COLUMNS = {
    "control_arm": EXACT,
    "test": EXACT,
    "n_segments": EXACT,
    "statistic": SIGNED,
    "df": EXACT,
    "p_value": POSITIVE,
    "p_value_adj": POSITIVE,
    "i_squared": SIGNED,
    "pooled_lift": SIGNED,
    "status": EXACT,
}
CHECK_KEYS = ["experiment_id", "check_name", "dimension", "segment"]
# Chi-square statistics and p-values are compared on the tests; every check row is compared on its status.
CHECK_TEST_COLUMNS = {"statistic": SIGNED, "df": EXACT, "p_value": POSITIVE, "status": EXACT}
CHECK_ROW_COLUMNS = {"status": EXACT}
# The info checks carry a count as statistic: the smaller arm's units, or the number of folded levels.
COUNT_CHECKS = ("minimum_segment_size", "dimension_folded")
CHECK_COUNT_COLUMNS = {"statistic": EXACT}
TESTED_CHECKS = ("sample_ratio_mismatch", "sample_ratio_mismatch_segment", "covariate_balance")


# The keys and the compared columns (with their tolerances) of each SQL mart a reference reproduces row for row.
MART_COLUMNS = {
    "hte_segment_stats": (LIFT_KEYS, STATS_COLUMNS),
    "hte_segment_lifts": (LIFT_KEYS, LIFT_COLUMNS),
    "hte_segment_differences": (LIFT_KEYS, DIFFERENCE_COLUMNS),
    "hte_dimension_tests": (DIMENSION_TEST_KEYS, DIMENSION_TEST_COLUMNS),
}


def compare_mart(name: str, actual: pd.DataFrame, expected: pd.DataFrame) -> list[str]:
    """`compare` of mart `name` on its keys and columns (MART_COLUMNS)."""
    keys, columns = MART_COLUMNS[name]
    return compare(actual, expected, keys, columns, label=name)


def compare_built_mart(result, expected: dict[str, pd.DataFrame], name: str) -> list[str]:
    """`compare_mart` of a dbt build's table `name` (a DbtResult) against the reference table of that name."""
    return compare_mart(name, result.table(name), expected[name])


def compare_checks(actual: pd.DataFrame, expected: pd.DataFrame, *, counts: bool = False) -> list[str]:
    """`compare` of hte_checks: every row's status fields, the statistics of the tests (TESTED_CHECKS) and, with
    `counts`, the counts of COUNT_CHECKS."""
    problems = compare(actual, expected, CHECK_KEYS, CHECK_ROW_COLUMNS, label="hte_checks")
    parts = [("tests", TESTED_CHECKS, CHECK_TEST_COLUMNS)] + (
        [("counts", COUNT_CHECKS, CHECK_COUNT_COLUMNS)] if counts else []
    )
    for part, names, columns in parts:
        problems += compare(
            actual[actual["check_name"].isin(names)],
            expected[expected["check_name"].isin(names)],
            CHECK_KEYS,
            columns,
            label=f"hte_checks ({part})",
        )
    return problems


def assert_agrees(problems: list[str]) -> None:
    """Fail with every difference `compare` found, one per line."""
    assert not problems, "\n".join(problems)


def compare_marts(result, expected: dict[str, pd.DataFrame], experiments: list[str] | None = None) -> list[str]:
    """Every SQL mart of a dbt build against the reference tables (optionally only some experiments)."""

    def read(name):
        table = result.table(name)
        return table[table["experiment_id"].isin(experiments)] if experiments is not None else table

    def ref(name):
        table = expected[name]
        return table[table["experiment_id"].isin(experiments)] if experiments is not None else table

    problems = []
    for name in MART_COLUMNS:
        problems += compare_mart(name, read(name), ref(name))
    sql_lifts, ref_lifts = read("hte_segment_lifts"), ref("hte_segment_lifts")
    if "lift_rel_note" in sql_lifts.columns:
        # A null relative lift must say why (control mean 0); a defined one needs no note.
        notes = sql_lifts.merge(ref_lifts[LIFT_KEYS + ["mean_control"]], on=LIFT_KEYS, suffixes=("", "_ref"))
        unexplained = notes["lift_rel"].isna() & (notes["mean_control_ref"] == 0) & notes["lift_rel_note"].isna()
        if unexplained.any():
            problems.append(
                f"hte_segment_lifts.lift_rel_note: {int(unexplained.sum())} rows with control mean 0 "
                f"have no note, e.g. {notes.loc[unexplained, LIFT_KEYS].head(3).to_dict('records')}"
            )
    problems += compare_checks(read("hte_checks"), ref("hte_checks"), counts=True)
    return problems


# ---------------------------------------------------------------------------------------------------------------
# The rows behind one row of a mart (for the tests that recompute a row with statsmodels)
# ---------------------------------------------------------------------------------------------------------------


def shares_key(frame: pd.DataFrame, row, keys: list[str]) -> pd.Series:
    """Which rows of `frame` hold `row`'s value (a tuple of itertuples) in every one of `keys`: a mask to combine."""
    mask = pd.Series(True, index=frame.index)
    for key in keys:
        mask &= frame[key] == getattr(row, key)
    return mask


def arm_units(long: pd.DataFrame, row) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The unit rows (of the reference's `long` table) of a lift row's segment: its arm's, then its control arm's."""
    segment = long[shares_key(long, row, SEGMENT_KEYS)]
    return segment[segment["arm"] == row.arm], segment[segment["arm"] == row.control_arm]
