"""The demo's planted effects are recovered: simultaneous intervals of the segment effects and of the
differential effects (interactions) cover the truth the data-generating process defines.

Truth per segment is the average of E[Y(arm) - Y(control) | x] over the segment's units
(`hte_engine.demo.data.true_segment_effects`); a differential effect's truth is the segment's minus the
reference segment's. Intervals are Bonferroni-widened over all intervals checked, so the promise is family-wise:
with correct standard errors, all of them cover with probability at least 95%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from hte_engine.demo.data import generate, true_segment_effects
from hte_engine.regression.interactions import interaction_regressions_from_cells

CHECKS = [
    ("coupon_push", "customer_type"),
    ("email_campaign", "history_segment"),
    ("email_campaign", "engagement_band"),
]


def demo_units(frames: dict[str, pd.DataFrame], dimensions: list[str]) -> pd.DataFrame:
    # Mirrors int_hte_units: a unit without an outcome row counts as 0; a null feature is '(missing)'.
    units = frames["assignments"].merge(frames["unit_features"], on=["experiment_id", "unit_id"])
    metrics = frames["outcomes"][["experiment_id", "metric"]].drop_duplicates()
    units = units.merge(metrics, on="experiment_id").merge(
        frames["outcomes"][["experiment_id", "unit_id", "metric", "value"]], how="left",
        on=["experiment_id", "unit_id", "metric"],
    )  # fmt: skip
    units["y"] = units["value"].fillna(0.0).astype(float)
    for d in dimensions:
        units[d] = units[d].astype(object).where(units[d].notna(), "(missing)").astype(str)
    return units


def demo_cells(frames: dict[str, pd.DataFrame], dimensions: list[str]) -> pd.DataFrame:
    units = demo_units(frames, dimensions)
    return (
        units.assign(y2=units["y"] ** 2)
        .groupby(["experiment_id", "metric", "arm", *dimensions], observed=True)
        .agg(n=("y", "size"), sum_y=("y", "sum"), sum_y2=("y2", "sum"))
        .reset_index()
    )


def test_planted_segment_and_differential_effects_are_covered() -> None:
    frames = generate()
    dimensions = ["customer_type", "history_segment", "engagement_band", "device"]
    regressions = interaction_regressions_from_cells(demo_cells(frames, dimensions), frames["experiments"], dimensions)
    marginal = regressions[(regressions["model"] == "marginal") & (regressions["status"] == "ok")]

    checked = []
    for experiment_id, dimension in CHECKS:
        truth = true_segment_effects(frames["truth"], frames["unit_features"], dimension)
        truth = truth[truth["experiment_id"] == experiment_id]
        for (metric, arm), group in truth.groupby(["metric", "arm"]):
            rows = marginal[(marginal["experiment_id"] == experiment_id) & (marginal["metric"] == metric)
                            & (marginal["arm"] == arm) & (marginal["dimension"] == dimension)]  # fmt: skip
            true = dict(zip(group["segment"], group["true_effect"], strict=True))
            reference = rows.loc[rows["role"] == "treatment", "segment"].iloc[0]
            for _, row in rows[rows["role"] == "segment_effect"].iterrows():
                checked.append((row["estimate"], row["std_error"], true[row["segment"]], (metric, arm, row["term"])))
            for _, row in rows[rows["role"] == "interaction"].iterrows():
                planted = true[row["segment"]] - true[reference]
                checked.append((row["estimate"], row["std_error"], planted, (metric, arm, row["term"])))
    assert len(checked) >= 40
    z = stats.norm.ppf(1 - 0.05 / (2 * len(checked)))
    misses = [label for est, se, planted, label in checked if abs(est - planted) > z * se]
    assert not misses, misses
    # And the data can tell the planted heterogeneity apart: coupon lifts occasional shoppers, not loyalists.
    coupon = marginal[
        (marginal["experiment_id"] == "coupon_push") & (marginal["term"] == "effect:customer_type=occasional_shopper")
    ]
    assert coupon["ci_low"].iloc[0] > 0
    assert np.isfinite(coupon["shrunk_estimate"].iloc[0])


def test_demo_adjusted_model_equals_statsmodels_on_unit_rows() -> None:
    frames = generate()
    dimensions = ["history_segment", "engagement_band"]
    regressions = interaction_regressions_from_cells(demo_cells(frames, dimensions), frames["experiments"], dimensions)
    units = demo_units(frames, dimensions)
    pair = units[(units["experiment_id"] == "email_campaign") & (units["metric"] == "spend")]
    pair = pair[pair["arm"].isin(["no_email", "discount_email"])]
    pair = pair.assign(t=(pair["arm"] == "discount_email").astype(float))
    rows = regressions[
        (regressions["experiment_id"] == "email_campaign") & (regressions["metric"] == "spend")
        & (regressions["arm"] == "discount_email") & (regressions["model"] == "adjusted")
        & (regressions["role"] == "interaction")
    ]  # fmt: skip
    reference_of = {
        d: regressions.loc[(regressions["model"] == "marginal") & (regressions["dimension"] == d)
                           & (regressions["role"] == "treatment"), "segment"].iloc[0]
        for d in dimensions
    }  # fmt: skip
    formula = "y ~ " + " + ".join(f"t * C({d}, Treatment('{reference_of[d]}'))" for d in dimensions)
    fit = smf.ols(formula, data=pair).fit(cov_type="HC1")
    assert len(rows) == 5
    for _, row in rows.iterrows():
        name = f"t:C({row['dimension']}, Treatment('{reference_of[row['dimension']]}'))[T.{row['segment']}]"
        assert row["estimate"] == pytest.approx(fit.params[name], rel=1e-9)
        assert row["std_error"] == pytest.approx(fit.bse[name], rel=1e-9)
