"""The segment decision table: for each pre-specified segment, its lift, its economics, and what to do.

Per experiment x dimension x segment x treatment arm (reference 002, "Targeting with HTE"):

    net value  = lift * benefit - cost - risk_penalty * risk_lift        (per treated unit)
    its se     = sqrt((benefit * se_lift)^2 + (cost_per_metric_unit * se_cost_lift)^2 + (penalty * se_risk)^2)

The metrics' lifts are treated as independent in the se: ``hte_segment_lifts`` carries no covariance between
metrics. When the benefit is a per-unit column (each customer's own margin), lift * mean benefit is wrong whenever
the benefit varies with the effect inside a segment; ``segment_value_lifts`` instead takes the difference in means
of benefit_i * y_i, the unbiased estimate of E[benefit(x) tau(x)] in a randomised experiment, and the table is
computed from it with benefit 1.

Decision, with intervals at level alpha, Bonferroni-adjusted over the segments of one dimension by default
(several segments are looked at and the best acted upon):

- ``need more data`` when the segment is below the minimum size in either arm;
- ``hold`` (risk) when the guardrail lift is above the risk limit;
- ``treat`` when the whole net-value interval is above break-even;
- ``hold`` when the whole interval is below break-even;
- ``hold`` when the lift is negligible: the target metric has a minimum effect worth acting on (``min_effect`` /
  ``min_effect_relative`` in var hte_metrics) and ``practical_verdict`` of ``hte_segment_lifts`` is ``negligible``
  (an equivalence test puts the lift within the threshold). The user has said effects that small are not worth
  acting on, so a segment does not get its own treatment for one, even when the lift is significant and the net
  value interval is above break-even; nor would more data change that (not ``need more data``). The guardrail and
  size rules above come first. Rows without the column (value lifts from a per-unit benefit column) skip the rule;
- ``hold`` when the interval crosses break-even but the lift itself is indistinguishable from zero and treating
  with no effect would lose money: there is no evidence the treatment does anything here, and the burden of proof
  is on spending (a high-margin segment with no detectable lift has a wide net-value interval from the margin
  alone, which is noise, not promise);
- ``need more data`` otherwise: the treatment demonstrably works in the segment, but whether it pays is not
  settled by this sample. The unit of decision is the segment; a larger test within it settles it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from hte_engine.targeting.policies import Economics

KEYS = ["experiment_id", "metric", "dimension", "segment", "arm", "control_arm"]
ADJUSTMENTS = ("bonferroni", "none")

REASON_SMALL = "segment below the minimum size"
REASON_RISK = "guardrail uplift above the risk limit"
REASON_LOSES = "loses money across the whole interval"
REASON_NO_EFFECT = "no detectable lift; with no effect treating only costs"
REASON_CROSSES = "net value interval crosses break-even"
REASON_NOT_ESTIMABLE = "lift not estimable"
REASON_NEGLIGIBLE = "lift negligible: within the metric's minimum effect worth acting on (equivalence test)"


def segment_value_lifts(
    units: pd.DataFrame,
    benefit: np.ndarray,
    segment_columns: list[str],
    control_arm: str,
    experiment_id: str,
    metric: str,
) -> pd.DataFrame:
    """Welch difference in mean benefit_i * y_i between each treatment arm and control, per segment, in the
    column layout of ``hte_segment_lifts`` (dimension ``overall`` / segment ``all`` included).

    ``units`` has one row per unit: ``arm``, ``y`` and the segment columns; ``benefit`` is aligned with it.
    """
    frame = units.assign(_v=np.asarray(units["y"], dtype=float) * np.asarray(benefit, dtype=float), overall="all")
    rows = []
    for dimension in ["overall", *segment_columns]:
        # int_hte_units writes '(missing)' for a null feature; a dimension none of the units has is not the
        # experiment's (internals.md, metric and dimension applicability).
        if dimension != "overall" and frame[dimension].isna().all() | (frame[dimension] == "(missing)").all():
            continue
        stats_ = (
            frame.dropna(subset=[dimension])
            .groupby([dimension, "arm"], observed=True)["_v"]
            .agg(["count", "mean", "var"])
        )
        for segment in stats_.index.get_level_values(0).unique():
            cell = stats_.loc[segment]
            if control_arm not in cell.index:
                continue
            c = cell.loc[control_arm]
            for arm in cell.index:
                if arm == control_arm:
                    continue
                t = cell.loc[arm]
                se = float(np.sqrt(t["var"] / t["count"] + c["var"] / c["count"]))
                rows.append(
                    {
                        "experiment_id": experiment_id,
                        "metric": metric,
                        "dimension": dimension,
                        "segment": str(segment),
                        "arm": str(arm),
                        "control_arm": control_arm,
                        "n_treatment": int(t["count"]),
                        "n_control": int(c["count"]),
                        "mean_treatment": float(t["mean"]),
                        "mean_control": float(c["mean"]),
                        "lift_abs": float(t["mean"] - c["mean"]),
                        "lift_abs_se": se,
                        "verdict": None,
                    }
                )
    return pd.DataFrame(rows)


def _matched(lifts: pd.DataFrame | None, base: pd.DataFrame, what: str, experiment_id: str) -> tuple:
    if lifts is None:
        return np.zeros(len(base)), np.zeros(len(base))
    keys = ["dimension", "segment", "arm"]
    joined = base[keys].merge(lifts[keys + ["lift_abs", "lift_abs_se"]], on=keys, how="left", validate="m:1")
    if joined["lift_abs"].isna().any():
        missing = joined.loc[joined["lift_abs"].isna(), keys].head(3).to_dict("records")
        raise ValueError(
            f"dbt_hte targeting: experiment '{experiment_id}': no {what} lift for segments {missing}; "
            f"the {what} metric needs outcome rows in every segment the target metric has."
        )
    return joined["lift_abs"].to_numpy(dtype=float), joined["lift_abs_se"].to_numpy(dtype=float)


# The columns of hte_targeting_segments, in order, with their types: also the shape of the (empty) table when no
# experiment declares economics, so a project without targeting still builds the model.
SEGMENT_TABLE_SCHEMA = {
    "experiment_id": "str", "metric": "str", "dimension": "str", "segment": "str", "arm": "str",
    "control_arm": "str", "n_treatment": "float64", "n_control": "float64", "lift_abs": "float64",
    "lift_abs_se": "float64", "lift_ci_low": "float64", "lift_ci_high": "float64", "benefit_per_unit": "float64",
    "cost_per_treated": "float64", "risk_penalty": "float64", "risk_lift": "float64", "break_even_lift": "float64",
    "net_value": "float64", "net_value_se": "float64", "net_value_ci_low": "float64", "net_value_ci_high": "float64",
    "z_critical": "float64", "decision": "str", "reason": "str", "recommended_arm": "str",
    "segment_decision": "str", "is_recommended_arm": "bool", "lift_unit": "str",
}  # fmt: skip
SEGMENT_TABLE_COLUMNS = tuple(SEGMENT_TABLE_SCHEMA)


def lift_unit(economics: Economics) -> str:
    """What lift_abs of hte_targeting_segments counts, in words: the target metric, or money when the benefit is a
    per-unit column (lift_abs is then the difference in mean benefit_i x y_i and benefit_per_unit is 1)."""
    if economics.benefit_column is not None:
        return f"money: {economics.target_metric} x {economics.benefit_column} of each unit"
    return economics.target_metric


def segment_decisions(
    target_lifts: pd.DataFrame,
    economics: Economics,
    benefit: float | None = None,
    cost_lifts: pd.DataFrame | None = None,
    risk_lifts: pd.DataFrame | None = None,
    alpha: float = 0.05,
    adjustment: str = "bonferroni",
    min_segment_size: int = 0,
) -> pd.DataFrame:
    """The decision table from ``hte_segment_lifts``-shaped rows of the target metric (one experiment).

    ``benefit`` defaults to the experiment's ``benefit_per_unit``; pass 1.0 with rows from ``segment_value_lifts``
    when the benefit is a per-unit column. ``cost_lifts`` / ``risk_lifts`` are the same rows for the cost and
    guardrail metrics when the economics use them.
    """
    eid = economics.experiment_id
    if adjustment not in ADJUSTMENTS:
        raise ValueError(
            f"dbt_hte targeting: var hte_targeting_interval_adjustment must be one of {list(ADJUSTMENTS)}; "
            f"got '{adjustment}'."
        )
    if not 0 < alpha < 1:
        raise ValueError(f"dbt_hte targeting: alpha must be in (0, 1); got {alpha}.")
    if benefit is None:
        if economics.benefit_column is not None:
            raise ValueError(
                f"dbt_hte targeting: experiment '{eid}': the benefit is the per-unit column "
                f"'{economics.benefit_column}'; compute value lifts with segment_value_lifts and "
                "pass benefit=1.0."
            )
        benefit = economics.benefit_per_unit
    if economics.cost_metric is not None and cost_lifts is None:
        raise ValueError(
            f"dbt_hte targeting: experiment '{eid}': the cost depends on metric "
            f"'{economics.cost_metric}' but no lifts for it were given."
        )
    if economics.risk_metric is not None and risk_lifts is None:
        raise ValueError(
            f"dbt_hte targeting: experiment '{eid}': the economics use risk metric "
            f"'{economics.risk_metric}' but no lifts for it were given."
        )
    base = target_lifts[target_lifts["experiment_id"] == eid].reset_index(drop=True)
    unknown = sorted(set(base["arm"]) - set(economics.arms))
    if unknown:
        raise ValueError(
            f"dbt_hte targeting: experiment '{eid}': arms {unknown} in the lifts are not treatment "
            f"arms of hte_experiments {list(economics.arms)}."
        )

    lift = base["lift_abs"].to_numpy(dtype=float)
    lift_se = base["lift_abs_se"].to_numpy(dtype=float)
    cost_lift, cost_se = _matched(cost_lifts, base, "cost", eid)
    risk_lift, risk_se = _matched(risk_lifts, base, "risk", eid)
    fixed_cost = base["arm"].map(economics.cost_per_treated).to_numpy(dtype=float)
    cost = fixed_cost + economics.cost_per_metric_unit * cost_lift
    risk = economics.risk_penalty_per_unit * risk_lift
    net = lift * benefit - cost - risk
    net_se = np.sqrt(
        (benefit * lift_se) ** 2
        + (economics.cost_per_metric_unit * cost_se) ** 2
        + (economics.risk_penalty_per_unit * risk_se) ** 2
    )

    size = base.groupby(["dimension", "arm"])["segment"].transform("size").to_numpy()
    family = size if adjustment == "bonferroni" else np.ones(len(base))
    z = stats.norm.ppf(1 - alpha / (2 * family))
    too_small = np.minimum(base["n_treatment"], base["n_control"]).to_numpy() < min_segment_size
    if "verdict" in base:
        too_small |= (base["verdict"] == "too_small").to_numpy()
    not_estimable = ~(np.isfinite(net_se) & (net_se > 0))
    lift_low, lift_high = lift - z * lift_se, lift + z * lift_se
    low, high = net - z * net_se, net + z * net_se
    over_risk = np.zeros(len(base), dtype=bool)
    if economics.risk_limit is not None:
        over_risk = risk_lift > economics.risk_limit
    # Net value if the treatment did nothing on the target metric: only the costs (and the risk) remain.
    at_zero_lift = -cost - risk
    # The equivalence verdict of hte_segment_lifts (null when the metric has no threshold): a negligible lift is not
    # worth a segment-specific decision. Losing money is the stronger reason, so it is checked first.
    negligible = np.zeros(len(base), dtype=bool)
    if "practical_verdict" in base:
        negligible = (base["practical_verdict"] == "negligible").fillna(False).to_numpy(dtype=bool)

    conditions = [
        too_small,
        not_estimable,
        over_risk,
        high < 0,
        negligible,
        low > 0,
        (lift_low <= 0) & (lift_high >= 0) & (at_zero_lift <= 0),
    ]
    decision = np.select(
        conditions,
        ["need more data", "need more data", "hold", "hold", "hold", "treat", "hold"],
        default="need more data",
    )
    reason = np.select(
        conditions,
        [REASON_SMALL, REASON_NOT_ESTIMABLE, REASON_RISK, REASON_LOSES, REASON_NEGLIGIBLE, "", REASON_NO_EFFECT],
        default=REASON_CROSSES,
    )

    out = base[["experiment_id", "dimension", "segment", "arm", "control_arm", "n_treatment", "n_control"]].copy()
    out.insert(1, "metric", economics.target_metric)
    out["lift_abs"] = lift
    out["lift_abs_se"] = lift_se
    out["lift_ci_low"] = lift_low
    out["lift_ci_high"] = lift_high
    out["benefit_per_unit"] = benefit
    out["cost_per_treated"] = cost
    out["risk_penalty"] = risk
    out["risk_lift"] = risk_lift if economics.risk_metric is not None else np.nan
    out["break_even_lift"] = (cost + risk) / benefit if benefit else np.nan
    out["net_value"] = net
    out["net_value_se"] = net_se
    out["net_value_ci_low"] = low
    out["net_value_ci_high"] = high
    out["z_critical"] = z
    out["lift_unit"] = lift_unit(economics)
    out["decision"] = decision
    out["reason"] = pd.Series(reason, dtype=object).replace("", None).to_numpy()
    return _recommend(out, economics.control_arm)[list(SEGMENT_TABLE_COLUMNS)]


def _recommend(table: pd.DataFrame, control_arm: str) -> pd.DataFrame:
    """Per segment: the arm to use (the most valuable arm whose decision is treat; else the control arm)."""
    keys = ["experiment_id", "dimension", "segment"]
    treat = table["decision"] == "treat"
    best = table[treat].sort_values("net_value", ascending=False).drop_duplicates(keys).set_index(keys)["arm"]
    index = pd.MultiIndex.from_frame(table[keys])
    recommended = pd.Series(best.reindex(index).to_numpy(), index=table.index)
    table["recommended_arm"] = recommended.fillna(control_arm).astype(object)
    grouped = table.groupby(keys)["decision"]
    any_treat = grouped.transform(lambda d: (d == "treat").any())
    any_more = grouped.transform(lambda d: (d == "need more data").any())
    table["segment_decision"] = np.where(any_treat, "treat", np.where(any_more, "need more data", "hold"))
    table["is_recommended_arm"] = table["arm"] == table["recommended_arm"]
    return table
