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

from hte_engine.regression import RegressionSettings
from hte_engine.unit_regression import (
    clustered_interaction_regressions,
    covariate_adjusted_effects,
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
