"""Exact ordinary least squares from cell sufficient statistics.

A cell is a group of units that share one design row (an arm crossed with segment levels). Given per cell the
count n, the sum of the outcome and the sum of its squares, the OLS fit over the units is the weighted least
squares fit of cell means with weights n (Wong et al., "You Only Compress Once", Netflix 2021; duckreg). The
coefficients and HC0-HC3 covariances equal the unit-level fit exactly, while the cost depends only on the
number of cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
from scipy import stats

from hte_engine.regression.covariance import cell_residual_ss, cell_sandwich

# A column whose part orthogonal to the columns before it is this small relative to its own norm is aliased
# (a linear combination of earlier columns): estimating it would only amplify rounding error.
ALIAS_TOLERANCE = 1e-10


@dataclass(frozen=True)
class LinearFit:
    """Coefficients and covariance of one linear fit (from cells or units); aliased columns carry NaN and are
    excluded from `cov`."""

    names: tuple[str, ...]
    params: np.ndarray
    cov: np.ndarray
    aliased: np.ndarray
    n_units: float
    rank: int
    cov_type: str
    residual_ss: float
    leverage_max: float = field(default=np.nan)

    @property
    def df_resid(self) -> float:
        return self.n_units - self.rank

    @property
    def std_errors(self) -> np.ndarray:
        """One per term, NaN for aliased terms (the covariance holds only the estimable ones)."""
        full = np.full(len(self.names), np.nan)
        # A variance that is zero in exact arithmetic (a cell with no within-cell variation that alone fixes a
        # coefficient) can come out as -1e-17 after the sandwich products; it is zero, not undefined.
        variances = np.diag(self.cov)
        full[~self.aliased] = np.sqrt(np.where(variances < 0, 0.0, variances))
        return full

    def contrast(self, weights: np.ndarray) -> tuple[float, float]:
        """Estimate and standard error of weights · params; NaN when the contrast touches an aliased column."""
        weights = np.asarray(weights, dtype=float)
        if np.any(weights[self.aliased] != 0):
            return np.nan, np.nan
        kept = ~self.aliased
        w = weights[kept]
        estimate = float(w @ self.params[kept])
        variance = float(w @ self.cov @ w)
        return estimate, float(np.sqrt(variance)) if variance >= 0 else np.nan

    def wald_test(self, columns: np.ndarray) -> tuple[float, int, float]:
        """Chi-square Wald test that the estimable coefficients among `columns` are all zero.

        Aliased columns are left out of the hypothesis (they are not identified), so df counts only the
        estimable ones; the caller says so when that happens.
        """
        columns = np.asarray(columns, dtype=int)
        kept_index = np.flatnonzero(~self.aliased)
        position = {c: i for i, c in enumerate(kept_index)}
        tested = [position[c] for c in columns if not self.aliased[c]]
        if not tested:
            return np.nan, 0, np.nan
        b = self.params[kept_index][tested]
        v = self.cov[np.ix_(tested, tested)]
        if not np.all(np.isfinite(v)):
            return np.nan, len(tested), np.nan
        statistic = float(b @ np.linalg.solve(v, b))
        df = len(tested)
        return statistic, df, float(stats.chi2.sf(statistic, df))


def aliased_columns(weighted_design: np.ndarray) -> np.ndarray:
    """Columns that are linear combinations of earlier ones, keeping the earlier (the more basic) term.

    The diagonal of an unpivoted QR is the norm of each column's part orthogonal to all earlier columns, so
    column order decides which of two collinear terms is kept: intercept, treatment, segments, interactions.
    """
    r = scipy.linalg.qr(weighted_design, mode="r")[0]
    diag = np.zeros(r.shape[1])
    diag[: min(r.shape)] = np.abs(np.diag(r))
    norms = np.linalg.norm(weighted_design, axis=0)
    return (norms == 0) | (diag <= ALIAS_TOLERANCE * norms)


def fit_cell_ols(
    design: np.ndarray,
    n: np.ndarray,
    sum_y: np.ndarray,
    sum_y2: np.ndarray,
    names: tuple[str, ...],
    cov_type: str = "HC1",
) -> LinearFit:
    """OLS of the unit outcomes on the cell design rows, exactly as if every unit row were present."""
    design = np.asarray(design, dtype=float)
    n = np.asarray(n, dtype=float)
    sum_y = np.asarray(sum_y, dtype=float)
    sum_y2 = np.asarray(sum_y2, dtype=float)
    present = n > 0
    design, n, sum_y, sum_y2 = design[present], n[present], sum_y[present], sum_y2[present]

    root_n = np.sqrt(n)
    weighted = design * root_n[:, None]
    aliased = aliased_columns(weighted)
    kept = ~aliased
    x = design[:, kept]
    # Weighted least squares of cell means with weights n has the unit-level normal equations
    # X'X = sum_g n_g x_g x_g' and X'y = sum_g x_g sum_y_g; solving it through QR of the weighted design keeps
    # the conditioning of X rather than squaring it.
    q, r = np.linalg.qr(x * root_n[:, None])
    coef = scipy.linalg.solve_triangular(r, q.T @ (sum_y / root_n))
    r_inv = scipy.linalg.solve_triangular(r, np.eye(r.shape[0]))
    bread = r_inv @ r_inv.T

    fitted = x @ coef
    residual_ss = cell_residual_ss(n, sum_y, sum_y2, fitted)
    leverage = np.einsum("gi,ij,gj->g", x, bread, x)
    n_units = float(n.sum())
    cov = cell_sandwich(x, bread, residual_ss, leverage, n_units, cov_type)

    params = np.full(len(names), np.nan)
    params[kept] = coef
    return LinearFit(
        names=tuple(names),
        params=params,
        cov=cov,
        aliased=aliased,
        n_units=n_units,
        rank=int(kept.sum()),
        cov_type=cov_type,
        residual_ss=float(residual_ss.sum()),
        leverage_max=float(leverage.max()) if leverage.size else np.nan,
    )
