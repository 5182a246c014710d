"""hte_interaction_regressions from cells: every row against statsmodels on the unit rows, and bad designs.

Reference fits use the formula interface with treatment coding (y ~ t * C(d, Treatment(reference))) on the
unit rows the cells were built from; tolerance 1e-9 relative (p-values 1e-7: they pass through a tail function).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from hte_engine.regression.interactions import (
    RegressionSettings,
    heterogeneity_tests,
    interaction_regressions_from_cells,
)
from hte_engine.regression.shrinkage import shrink_segment_effects

RTOL = 1e-9
CELL_KEYS = ["experiment_id", "metric", "arm", "device", "age", "region"]


def make_units(seed: int = 1, n: int = 6000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    units = pd.DataFrame(
        {
            "experiment_id": "e1",
            "arm": rng.choice(["control", "t1", "t2"], n),
            "device": rng.choice(["mobile", "desktop", "tablet"], n, p=[0.6, 0.3, 0.1]),
            "region": "(missing)",
        }
    )
    # Age depends on device, so the marginal and adjusted interactions differ.
    units["age"] = np.where(rng.uniform(size=n) < np.where(units["device"] == "mobile", 0.7, 0.3), "young", "old")
    treated = (units["arm"] != "control").to_numpy()
    units["y"] = rng.normal(size=n) * np.where(units["device"] == "tablet", 2.0, 1.0) + treated * (
        0.1 + 0.4 * (units["device"] == "tablet") - 0.2 * (units["age"] == "old")
    )
    return units.assign(metric="spend")


def to_cells(units: pd.DataFrame) -> pd.DataFrame:
    return (
        units.assign(y2=units["y"] ** 2)
        .groupby(CELL_KEYS, observed=True)
        .agg(n=("y", "size"), sum_y=("y", "sum"), sum_y2=("y2", "sum"))
        .reset_index()
    )


EXPERIMENTS = pd.DataFrame({"experiment_id": "e1", "arm": ["control", "t1", "t2"], "is_control": [True, False, False]})


def rows_for(frame: pd.DataFrame, **keys) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for k, v in keys.items():
        mask &= (frame[k] == v).to_numpy()
    return frame[mask]


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3"])
def test_marginal_rows_equal_statsmodels(cov_type: str) -> None:
    units = make_units()
    regressions = interaction_regressions_from_cells(
        to_cells(units), EXPERIMENTS, ["device", "age", "region"], RegressionSettings(cov_type=cov_type)
    )
    tests = heterogeneity_tests(regressions)
    assert set(regressions["dimension"].dropna()) == {"device", "age"}, (
        "an all-missing dimension is not part of the experiment"
    )
    for arm in ("t1", "t2"):
        pair = units[units["arm"].isin(["control", arm])]
        pair = pair.assign(t=(pair["arm"] == arm).astype(float))
        for dimension, reference in (("device", "mobile"), ("age", "young")):
            rows = rows_for(regressions, arm=arm, model="marginal", dimension=dimension)
            rows = rows[rows["role"] != "joint_test"]
            fit = smf.ols(f"y ~ t * C({dimension}, Treatment('{reference}'))", data=pair).fit(cov_type=cov_type)
            coded = f"C({dimension}, Treatment('{reference}'))"
            for _, row in rows.iterrows():
                if row["role"] == "segment_effect":
                    contrast = "t" if row["segment"] == reference else f"t + t:{coded}[T.{row['segment']}]"
                    t = fit.t_test(contrast)
                    expected, se = float(np.squeeze(t.effect)), float(np.squeeze(t.sd))
                    p_value, interval = float(np.squeeze(t.pvalue)), np.squeeze(t.conf_int(alpha=0.05))
                else:
                    name = {"baseline": "Intercept", "treatment": "t"}.get(row["role"])
                    if name is None:
                        prefix = "t:" if row["role"] == "interaction" else ""
                        name = f"{prefix}{coded}[T.{row['segment']}]"
                    expected, se = fit.params[name], fit.bse[name]
                    p_value, interval = fit.pvalues[name], fit.conf_int(alpha=0.05).loc[name].to_numpy()
                assert row["status"] == "ok"
                # Robust covariances make statsmodels use the normal distribution, as the rows do.
                assert row["p_value"] == pytest.approx(p_value, rel=1e-7, abs=1e-15)
                assert [row["ci_low"], row["ci_high"]] == pytest.approx(list(interval), rel=RTOL, abs=1e-12)
                assert row["estimate"] == pytest.approx(expected, rel=RTOL, abs=1e-12)
                assert row["std_error"] == pytest.approx(se, rel=RTOL)
            wald = rows_for(tests, arm=arm, dimension=dimension, test="wald_interactions").iloc[0]
            hypothesis = ", ".join(
                f"t:{coded}[T.{lv}] = 0" for lv in rows.loc[rows["role"] == "interaction", "segment"]
            )
            reference_test = fit.wald_test(hypothesis, use_f=False, scalar=True)
            assert wald["statistic"] == pytest.approx(float(reference_test.statistic), rel=RTOL)
            assert wald["p_value"] == pytest.approx(float(reference_test.pvalue), rel=1e-7)


def test_adjusted_rows_equal_statsmodels() -> None:
    units = make_units(seed=2)
    regressions = interaction_regressions_from_cells(to_cells(units), EXPERIMENTS, ["device", "age"])
    pair = units[units["arm"].isin(["control", "t1"])].assign(t=lambda u: (u["arm"] == "t1").astype(float))
    fit = smf.ols("y ~ t * C(device, Treatment('mobile')) + t * C(age, Treatment('young'))", data=pair).fit(
        cov_type="HC1"
    )
    adjusted = rows_for(regressions, arm="t1", model="adjusted")
    interaction = rows_for(adjusted, role="interaction", dimension="device", segment="tablet").iloc[0]
    assert interaction["estimate"] == pytest.approx(fit.params["t:C(device, Treatment('mobile'))[T.tablet]"], rel=RTOL)
    assert interaction["std_error"] == pytest.approx(fit.bse["t:C(device, Treatment('mobile'))[T.tablet]"], rel=RTOL)
    assert interaction["marginal_estimate"] == pytest.approx(
        rows_for(regressions, arm="t1", model="marginal", role="interaction", segment="tablet")["estimate"].iloc[0]
    )
    # The adjusted segment effect is the mean over the segment's units of the effect of switching t on,
    # which statsmodels gives as the contrast of the averaged design difference.
    old = pair[pair["age"] == "old"]
    weights = np.zeros(len(fit.params))
    names = list(fit.params.index)
    weights[names.index("t")] = 1.0
    weights[names.index("t:C(age, Treatment('young'))[T.old]")] = 1.0
    for level in ("desktop", "tablet"):
        weights[names.index(f"t:C(device, Treatment('mobile'))[T.{level}]")] = (old["device"] == level).mean()
    t = fit.t_test(weights)
    effect = rows_for(adjusted, role="segment_effect", dimension="age", segment="old").iloc[0]
    assert effect["estimate"] == pytest.approx(float(np.squeeze(t.effect)), rel=RTOL)
    assert effect["std_error"] == pytest.approx(float(np.squeeze(t.sd)), rel=RTOL)


def test_demo_truth_recovered_within_intervals() -> None:
    # Planted: tablet users gain 0.4 more than mobile, old users 0.2 less than young (adjusted model).
    units = make_units(seed=4, n=60000)
    regressions = interaction_regressions_from_cells(to_cells(units), EXPERIMENTS, ["device", "age"])
    for arm in ("t1", "t2"):
        adjusted = rows_for(regressions, arm=arm, model="adjusted", role="interaction")
        truth = {("device", "tablet"): 0.4, ("device", "desktop"): 0.0, ("age", "old"): -0.2}
        for (dimension, segment), value in truth.items():
            row = rows_for(adjusted, dimension=dimension, segment=segment).iloc[0]
            assert row["ci_low"] <= value <= row["ci_high"], (arm, dimension, segment, row["estimate"])


def test_bad_designs_carry_status_and_no_numbers() -> None:
    units = make_units(seed=3, n=3000)
    lonely = pd.DataFrame(
        {
            "experiment_id": "e1",
            "arm": "control",
            "device": "watch",
            "region": "(missing)",
            "age": "young",
            "y": [0.5, 1.5, 0.2],
        }
    ).assign(metric="spend")
    flat = units.assign(metric="flat", y=2.0)
    one_level = units.assign(experiment_id="e2", age="young")
    cells = to_cells(pd.concat([units, lonely, flat, one_level], ignore_index=True))
    experiments = pd.concat([EXPERIMENTS, EXPERIMENTS.assign(experiment_id="e2")], ignore_index=True)
    regressions = interaction_regressions_from_cells(cells, experiments, ["device", "age"])
    tests = heterogeneity_tests(regressions, "holm")

    watch = rows_for(regressions, experiment_id="e1", metric="spend", arm="t1", model="marginal", segment="watch")
    assert len(watch) == 3, "the segment, interaction and segment-effect rows of 'watch'"
    assert set(watch.loc[watch["role"].isin(["interaction", "segment_effect"]), "status"]) == {"not_estimable"}
    assert watch.loc[watch["role"] == "interaction", ["estimate", "std_error"]].isna().all().all()
    assert "only in arm 'control'" in watch.loc[watch["role"] == "interaction", "reason"].iloc[0]
    others = rows_for(regressions, experiment_id="e1", metric="spend", arm="t1", model="marginal", dimension="device")
    assert (others.loc[(others["segment"] != "watch") & (others["role"] != "joint_test"), "status"] == "ok").all()
    wald = rows_for(
        tests, experiment_id="e1", metric="spend", arm="t1", dimension="device", test="wald_interactions"
    ).iloc[0]
    assert wald["df"] == 2 and "watch" in wald["reason"]

    flat_rows = rows_for(regressions, experiment_id="e1", metric="flat")
    assert (flat_rows["status"] == "zero_variance").all()
    assert flat_rows[["std_error", "p_value", "ci_low"]].isna().all().all()

    single = rows_for(tests, experiment_id="e2", dimension="age", test="wald_interactions")
    assert (single["status"] == "single_level").all() and single["statistic"].isna().all()
    assert rows_for(regressions, experiment_id="e2", model="adjusted").empty, "one usable dimension: no adjusted model"

    # Holm over the family's two dimensions in closed form: 2 p_min, then max(2 p_min, p_max), capped at 1.
    family = rows_for(tests, experiment_id="e1", metric="spend", arm="t1", test="wald_interactions")
    p_min, p_max = sorted(family["p_value"])
    holm = {p_min: min(1.0, 2 * p_min), p_max: min(1.0, max(2 * p_min, p_max))}
    assert family["p_value_adj"].tolist() == pytest.approx([holm[p] for p in family["p_value"]], rel=1e-12)


def test_shrunk_columns_are_the_empirical_bayes_posterior_of_the_raw_segment_effects() -> None:
    rng = np.random.default_rng(8)
    units = make_units(seed=6, n=8000)
    regions, shares = ["north", "south", "east", "west", "centre"], [0.4, 0.3, 0.15, 0.1, 0.05]
    units["region"] = rng.choice(regions, len(units), p=shares)
    regressions = interaction_regressions_from_cells(to_cells(units), EXPERIMENTS, ["device", "region"])
    effects = rows_for(regressions, arm="t1", model="marginal", dimension="region", role="segment_effect")
    shrunk = shrink_segment_effects(effects["estimate"].to_numpy(), effects["std_error"].to_numpy())
    assert effects["shrunk_estimate"].to_numpy() == pytest.approx(shrunk.posterior_mean, rel=1e-12)
    assert effects["shrunk_ci_low"].to_numpy() == pytest.approx(shrunk.ci_low, rel=1e-12)
    assert effects["shrunk_ci_high"].to_numpy() == pytest.approx(shrunk.ci_high, rel=1e-12)
    device = rows_for(regressions, arm="t1", model="marginal", dimension="device", role="segment_effect")
    assert device["shrunk_estimate"].isna().all(), "three segments are too few to estimate the prior"


def test_configured_reference_segment_is_used_and_missing_one_falls_back() -> None:
    units = make_units(seed=5, n=2000)
    settings = RegressionSettings(reference_segments={"device": "tablet", "age": "teen"})
    regressions = interaction_regressions_from_cells(to_cells(units), EXPERIMENTS, ["device", "age"], settings)
    device = rows_for(regressions, arm="t1", model="marginal", dimension="device", role="treatment").iloc[0]
    age = rows_for(regressions, arm="t1", model="marginal", dimension="age", role="treatment").iloc[0]
    assert device["segment"] == "tablet"
    assert age["segment"] == "young" and "'teen'" in age["reason"]
