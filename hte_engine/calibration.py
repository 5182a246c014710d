"""Is the predicted heterogeneity real? The best-linear-predictor calibration test and the decile lookup table.

Best linear predictor (Chernozhukov, Demirer, Duflo & Fernandez-Val 2018, "Generic machine learning inference on
heterogeneous treatment effects in randomized experiments"; grf's ``test_calibration``): with out-of-fold
m(x) = E[Y | x], propensity e and scores tau_hat, regress

    Y - m(X) = beta_1 * tau_bar * (W - e) + beta_2 * (tau_hat - tau_bar) * (W - e) + error    (no intercept)

with heteroskedasticity-robust (HC3) or cluster-robust standard errors. beta_1 = 1 when the average prediction is
right; beta_2, the *heterogeneity loading*, is 0 when the scores carry no information about how effects vary and
1 when they are calibrated. The one-sided test of beta_2 > 0 tells real heterogeneity from noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats


@dataclass(frozen=True)
class CalibrationTest:
    mean_prediction: float
    mean_prediction_se: float
    heterogeneity_loading: float
    heterogeneity_loading_se: float
    heterogeneity_p_value: float
    status: str


def blp_calibration_test(y, treated, propensity, mu0, mu1, cate, cluster=None) -> CalibrationTest:
    """grf's ``test_calibration`` on out-of-fold nuisances; p-value one-sided for beta_2 > 0 (t, n - 2 df)."""
    y, t, e, mu0, mu1, tau = (np.asarray(a, dtype=float) for a in (y, treated, propensity, mu0, mu1, cate))
    tau_bar = tau.mean()
    spread = tau - tau_bar
    nan = float("nan")
    if np.allclose(spread, 0.0, atol=1e-12 * max(1.0, abs(tau_bar))):
        return CalibrationTest(nan, nan, nan, nan, nan, "constant_scores")
    m = e * mu1 + (1 - e) * mu0
    design = np.column_stack([tau_bar * (t - e), spread * (t - e)])
    if cluster is not None:
        groups = pd.factorize(pd.Series(cluster).astype(str))[0]
        fit = sm.OLS(y - m, design).fit(cov_type="cluster", cov_kwds={"groups": groups})
    else:
        fit = sm.OLS(y - m, design).fit(cov_type="HC3")
    beta, se = fit.params, fit.bse
    t_stat = beta[1] / se[1]
    p_value = float(stats.t.sf(t_stat, df=y.size - 2))
    return CalibrationTest(float(beta[0]), float(se[0]), float(beta[1]), float(se[1]), p_value, "ok")


def effect_groups(cate, n_groups: int = 10) -> np.ndarray:
    """Group 1 holds the highest predicted effects. Tied scores share a group (ranked by their average rank),
    so a group boundary never splits units that the model cannot tell apart."""
    rank = stats.rankdata(-np.asarray(cate, dtype=float), method="average")
    return np.clip(np.ceil(rank / rank.size * n_groups), 1, n_groups).astype(int)


def decile_table(cate, y, treated, dr_score, n_groups: int = 10, alpha: float = 0.05) -> pd.DataFrame:
    """Per predicted-effect group: mean prediction against the observed treated-minus-control difference
    (Welch standard error) and the mean doubly-robust score (its standard error), with normal intervals."""
    frame = pd.DataFrame({
        "group": effect_groups(cate, n_groups),
        "cate": np.asarray(cate, dtype=float),
        "y": np.asarray(y, dtype=float),
        "treated": np.asarray(treated).astype(int),
        "dr": np.asarray(dr_score, dtype=float),
    })
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for group, part in frame.groupby("group", sort=True):
        yt, yc = part.loc[part.treated == 1, "y"], part.loc[part.treated == 0, "y"]
        n_t, n_c = len(yt), len(yc)
        if n_t >= 2 and n_c >= 2:
            lift = yt.mean() - yc.mean()
            lift_se = np.sqrt(yt.var(ddof=1) / n_t + yc.var(ddof=1) / n_c)
        else:
            lift, lift_se = np.nan, np.nan
        dr_mean = part.dr.mean()
        dr_se = part.dr.std(ddof=1) / np.sqrt(len(part)) if len(part) >= 2 else np.nan
        rows.append({
            "decile": int(group),
            "n_units": len(part),
            "n_treatment": n_t,
            "n_control": n_c,
            "mean_predicted": part.cate.mean(),
            "observed_lift": lift,
            "observed_lift_se": lift_se,
            "observed_lift_ci_low": lift - z * lift_se,
            "observed_lift_ci_high": lift + z * lift_se,
            "dr_lift": dr_mean,
            "dr_lift_se": dr_se,
            "dr_lift_ci_low": dr_mean - z * dr_se,
            "dr_lift_ci_high": dr_mean + z * dr_se,
        })
    return pd.DataFrame(rows)
