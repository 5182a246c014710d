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
    """grf's ``test_calibration`` on out-of-fold nuisances; p-value one-sided for beta_2 > 0 from a t distribution
    with n - 2 degrees of freedom, or G - 1 with G clusters: a cluster-robust variance is an average over G
    cluster totals, so with few clusters its t statistic has G - 1 degrees of freedom at most (Cameron & Miller
    2015, "A practitioner's guide to cluster-robust inference")."""
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
        df = int(groups.max())
    else:
        fit = sm.OLS(y - m, design).fit(cov_type="HC3")
        df = y.size - 2
    beta, se = fit.params, fit.bse
    t_stat = beta[1] / se[1]
    p_value = float(stats.t.sf(t_stat, df=df))
    return CalibrationTest(float(beta[0]), float(se[0]), float(beta[1]), float(se[1]), p_value, "ok")


def effect_groups(cate, n_groups: int = 10) -> np.ndarray:
    """Group 1 holds the highest predicted effects. Tied scores share a group (ranked by their average rank),
    so a group boundary never splits units that the model cannot tell apart. Scores that are all tied form
    one group, labelled 1: there is no ranking, and the average rank would misplace it mid-table (group 6)."""
    score = np.asarray(cate, dtype=float)
    if score.size and np.all(score == score[0]):
        return np.ones(score.size, dtype=int)
    rank = stats.rankdata(-score, method="average")
    return np.clip(np.ceil(rank / rank.size * n_groups), 1, n_groups).astype(int)


def mean_se(values, cluster=None) -> float:
    """Standard error of the mean of per-unit values (e.g. doubly-robust scores): s / sqrt(n), or with
    ``cluster`` the cluster-robust one (statsmodels' intercept-only OLS with cov_type 'cluster'; its small-sample
    factor G / (G - 1) * (n - 1) / (n - k) is G / (G - 1) here). NaN with fewer than two units or two clusters."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return float("nan")
    if cluster is None:
        return float(values.std(ddof=1) / np.sqrt(values.size))
    groups = pd.factorize(pd.Series(cluster).astype(str))[0]
    if groups.max() < 1:
        return float("nan")
    fit = sm.OLS(values, np.ones(values.size)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    return float(fit.bse[0])


def _lift_and_se(y, t, cluster) -> tuple[float, float]:
    """Treated-minus-control difference in means with Welch's standard error, or the cluster-robust one of the
    treatment coefficient of OLS y ~ 1 + treated when units carry clusters."""
    n_t, n_c = int(t.sum()), int((1 - t).sum())
    if n_t < 2 or n_c < 2:
        return float("nan"), float("nan")
    yt, yc = y[t == 1], y[t == 0]
    lift = float(yt.mean() - yc.mean())
    if cluster is None:
        return lift, float(np.sqrt(yt.var(ddof=1) / n_t + yc.var(ddof=1) / n_c))
    groups = pd.factorize(pd.Series(cluster).astype(str))[0]
    if groups.max() < 1:
        return lift, float("nan")
    fit = sm.OLS(y, np.column_stack([np.ones(y.size), t])).fit(cov_type="cluster", cov_kwds={"groups": groups})
    return lift, float(fit.bse[1])


def decile_table(
    cate, y, treated, dr_score, n_groups: int = 10, alpha: float = 0.05, rank_by=None, cluster=None
) -> pd.DataFrame:
    """Per predicted-effect group: mean prediction against the observed treated-minus-control difference
    (Welch standard error) and the mean doubly-robust score (its standard error), with normal intervals.

    ``rank_by`` forms the groups when the ranking is not ``cate`` itself (the constant learner ranks nobody
    above anybody, yet predicts its training folds' average effect); ``cluster`` (one key per unit) makes both
    standard errors cluster-robust. ``status`` is 'tied_scores' on the single group of a ranking whose scores
    are all equal, 'ok' otherwise."""
    ranking = np.asarray(cate if rank_by is None else rank_by, dtype=float)
    groups = effect_groups(ranking, n_groups)
    frame = pd.DataFrame(
        {
            "group": groups,
            "cate": np.asarray(cate, dtype=float),
            "y": np.asarray(y, dtype=float),
            "treated": np.asarray(treated).astype(int),
            "dr": np.asarray(dr_score, dtype=float),
            "cluster": None if cluster is None else pd.Series(cluster).astype(str).to_numpy(dtype=object),
        }
    )
    status = "tied_scores" if ranking.size and np.all(ranking == ranking[0]) else "ok"
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for group, part in frame.groupby("group", sort=True):
        keys = None if cluster is None else part.cluster.to_numpy()
        n_t, n_c = int(part.treated.sum()), int((1 - part.treated).sum())
        lift, lift_se = _lift_and_se(part.y.to_numpy(), part.treated.to_numpy(), keys)
        dr_mean = part.dr.mean()
        dr_se = mean_se(part.dr.to_numpy(), keys)
        rows.append(
            {
                "decile": int(group),
                "status": status,
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
            }
        )
    return pd.DataFrame(rows)
