"""Unit-level fits: cluster-robust interactions, Lin's covariate adjustment, logistic average marginal effects.

References: statsmodels formula OLS with cov_type='cluster'; the closed-form variance reduction of covariate
adjustment (se shrinks by sqrt(1 - rho^2)); statsmodels' get_margeff on per-segment logits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from hte_engine.regression.interactions import RegressionSettings
from hte_engine.regression.tables import experiments_with_features
from hte_engine.regression.units import (
    clustered_interaction_regressions,
    covariate_adjusted_effects,
    feature_covariates,
    logit_segment_effects,
)

EXPERIMENTS = pd.DataFrame({"experiment_id": "e1", "arm": ["control", "treat"], "is_control": [True, False]})


def make_units(n: int = 4000, seed: int = 0, binary: bool = False, clusters: int | None = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, clusters, n) if clusters else np.arange(n)
    # Assignment by cluster with a shared cluster shock: unit-level errors would be far too small.
    cluster_arm = rng.integers(0, 2, cluster.max() + 1)
    t = cluster_arm[cluster]
    device = rng.choice(["mobile", "desktop", "tablet"], n, p=[0.5, 0.3, 0.2])
    x = rng.normal(size=n)
    shock = rng.normal(size=cluster.max() + 1)[cluster]
    lin = 0.2 + 0.3 * t + 0.5 * t * (device == "tablet") + 0.8 * x + 0.5 * shock
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(lin - 0.5)))).astype(float) if binary else lin + rng.normal(size=n)
    return pd.DataFrame(
        {"experiment_id": "e1", "unit_id": np.arange(n).astype(str), "arm": np.where(t == 1, "treat", "control"),
         "metric": "m", "y": y, "x": x, "cluster_id": pd.array(cluster.astype(str), dtype=object), "device": device}
    )  # fmt: skip


def test_cluster_robust_rows_equal_statsmodels() -> None:
    units = make_units()
    regressions = clustered_interaction_regressions(units, EXPERIMENTS, ["device"], RegressionSettings(), "units")
    units = units.assign(t=(units["arm"] == "treat").astype(float))
    groups = pd.factorize(units["cluster_id"])[0]
    fit = smf.ols("y ~ t * C(device, Treatment('mobile'))", data=units).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )
    row = regressions[(regressions["term"] == "treatment:device=tablet")].iloc[0]
    name = "t:C(device, Treatment('mobile'))[T.tablet]"
    assert row["cov_type"] == "cluster" and row["fit_source"] == "units"
    assert row["estimate"] == pytest.approx(fit.params[name], rel=1e-9)
    assert row["std_error"] == pytest.approx(fit.bse[name], rel=1e-9)
    effect = regressions[regressions["term"] == "effect:device=tablet"].iloc[0]
    t = fit.t_test(f"t + {name} = 0")
    assert effect["std_error"] == pytest.approx(float(np.squeeze(t.sd)), rel=1e-9)
    wald = fit.wald_test(
        "t:C(device, Treatment('mobile'))[T.desktop] = 0, t:C(device, Treatment('mobile'))[T.tablet] = 0",
        use_f=False,
        scalar=True,
    )
    joint = regressions[regressions["role"] == "joint_test"].iloc[0]
    assert joint["df"] == 2
    assert joint["statistic"] == pytest.approx(float(wald.statistic), rel=1e-9)


def test_lin_estimator_equals_formula_and_reduces_se_by_closed_form() -> None:
    units = make_units(n=20000, seed=1, clusters=None)
    rows = covariate_adjusted_effects(units, EXPERIMENTS, RegressionSettings(cov_type="HC2"), "units")
    row = rows.iloc[0]
    units = units.assign(t=(units["arm"] == "treat").astype(float), xc=units["x"] - units["x"].mean())
    fit = smf.ols("y ~ t * xc", data=units).fit(cov_type="HC2")
    assert row["estimate"] == pytest.approx(fit.params["t"], rel=1e-9)
    assert row["std_error"] == pytest.approx(fit.bse["t"], rel=1e-9)
    # Residual variance within arm falls from var(y) to var(y)(1 - rho^2); rho^2 of y with x is known from the
    # planted slope (0.8) and noise variances: 0.64 / (0.64 + 1 + 0.25 + heterogeneity), estimated here.
    rho2 = np.corrcoef(units["y"] - fit.params["t"] * units["t"], units["x"])[0, 1] ** 2
    assert row["se_reduction"] == pytest.approx(1 - np.sqrt(1 - rho2), abs=0.02)


def units_with_features(n: int = 6000, seed: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two experiments; the features are prognostic, one applies to every experiment (null experiment_id)."""
    rng = np.random.default_rng(seed)
    frames, features = [], []
    for e in ("e1", "e2"):
        unit_id = np.array([f"{e}-{i}" for i in range(n)])
        t = rng.integers(0, 2, n)
        tenure, score, x = rng.gamma(2.0, 3.0, n), rng.normal(size=n), rng.normal(size=n)
        # The treatment effect grows with tenure: the arms' slopes differ, the case Lin's interactions are for.
        y = 1.0 + 0.4 * t + 0.3 * tenure + 0.1 * t * tenure + 0.9 * score + 0.5 * x + rng.normal(size=n)
        frames.append(pd.DataFrame({"experiment_id": e, "unit_id": unit_id, "arm": np.where(t, "treat", "control"),
                                    "metric": "m", "y": y, "x": x if e == "e1" else np.nan,
                                    "cluster_id": pd.array([None] * n, dtype=object), "device": "all"}))  # fmt: skip
        score = np.where(rng.uniform(size=n) < 0.1, np.nan, score)
        # Half the feature rows carry no experiment_id: they apply to every experiment the unit is in.
        features.append(pd.DataFrame({"experiment_id": np.where(np.arange(n) % 2 == 0, None, e), "unit_id": unit_id,
                                      "score": score, "empty": np.nan, "tenure": tenure}))  # fmt: skip
    return pd.concat(frames, ignore_index=True), pd.concat(features, ignore_index=True)


@pytest.mark.parametrize("cov_type", ["HC1", "HC3"])
def test_lin_with_numeric_features_equals_the_interacted_formula_fit(cov_type: str) -> None:
    units, features = units_with_features()
    experiments = pd.concat([EXPERIMENTS, EXPERIMENTS.assign(experiment_id="e2")], ignore_index=True)
    rows = covariate_adjusted_effects(units, experiments, RegressionSettings(cov_type=cov_type), "units", features)
    assert experiments_with_features(features, ["e1", "e2", "e3"]) == {"e1", "e2", "e3"}
    for e, covariates in (("e1", ["pre-period value", "score", "score is missing", "tenure"]),
                          ("e2", ["score", "score is missing", "tenure"])):  # fmt: skip
        row = rows[rows["experiment_id"] == e].iloc[0]
        assert row["covariates"] == ", ".join(covariates), "the all-null column is dropped, the partial one filled"
        data = units[units["experiment_id"] == e].merge(features.drop(columns="experiment_id"), on="unit_id")
        data = data.assign(t=(data["arm"] == "treat").astype(float), score_missing=data["score"].isna().astype(float))
        data["score"] = data["score"].fillna(data["score"].mean())
        terms = (["x"] if e == "e1" else []) + ["score", "score_missing", "tenure"]
        for c in terms:
            data[c] = data[c] - data[c].mean()
        fit = smf.ols(f"y ~ t * ({' + '.join(terms)})", data=data).fit(cov_type=cov_type)
        plain = smf.ols("y ~ t", data=data).fit(cov_type=cov_type)
        assert row["status"] == "ok" and row["n_units"] == len(data)
        assert row["estimate"] == pytest.approx(fit.params["t"], rel=1e-9)
        assert row["std_error"] == pytest.approx(fit.bse["t"], rel=1e-9)
        assert row["se_unadjusted"] == pytest.approx(plain.bse["t"], rel=1e-9)
        assert row["se_reduction"] == pytest.approx(1 - fit.bse["t"] / plain.bse["t"], rel=1e-9)
        assert row["se_reduction"] > 0.3, "strongly prognostic features must shrink the standard error"


def test_lin_without_any_covariate_gives_no_row_and_constant_covariates_are_dropped() -> None:
    units, features = units_with_features(n=500)
    units, experiments = units[units["experiment_id"] == "e2"], EXPERIMENTS.assign(experiment_id="e2")
    assert covariate_adjusted_effects(units, experiments, RegressionSettings(), "units").empty
    constant = features.assign(score=1.0, tenure=2.0)
    rows = covariate_adjusted_effects(units, experiments, RegressionSettings(), "units", constant)
    assert rows.empty, "a constant feature is no covariate"
    rows = covariate_adjusted_effects(units, experiments, RegressionSettings(), "units", features.assign(tenure=2.0))
    assert rows["covariates"].tolist() == ["score, score is missing"]


def test_a_units_own_feature_row_wins_over_the_shared_one() -> None:
    features = pd.DataFrame({"experiment_id": [None, "e1", None], "unit_id": ["u1", "u1", "u2"],
                             "tenure": [1.0, 2.0, 3.0], "device": ["a", "b", "c"]})  # fmt: skip
    rows = feature_covariates(features, "e1").set_index("unit_id")
    assert list(rows.columns) == ["tenure"] and rows["tenure"].to_dict() == {"u1": 2.0, "u2": 3.0}
    assert feature_covariates(features, "e2").set_index("unit_id")["tenure"].to_dict() == {"u1": 1.0, "u2": 3.0}


def test_logit_average_marginal_effects_equal_get_margeff() -> None:
    units = make_units(n=6000, seed=2, binary=True, clusters=None)
    rows = logit_segment_effects(units, EXPERIMENTS, ["device"], RegressionSettings(cov_type="HC0"), ["m"], "units")
    for _, row in rows.iterrows():
        # The interaction logit is saturated in (segment, arm), so within a segment it is the logit of y on T
        # alone; statsmodels' dummy marginal effect of T there is the reference.
        seg = units[units["device"] == row["segment"]]
        t = (seg["arm"] == "treat").to_numpy(dtype=float)
        fit = sm.Logit(seg["y"].to_numpy(), sm.add_constant(t)).fit(disp=0, cov_type="HC0")
        margeff = fit.get_margeff(at="overall", dummy=True)
        assert row["status"] == "ok"
        assert row["estimate"] == pytest.approx(margeff.margeff[0], rel=1e-7)
        assert row["std_error"] == pytest.approx(margeff.margeff_se[0], rel=1e-5)
