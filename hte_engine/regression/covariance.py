"""Heteroskedasticity-robust covariance of OLS coefficients computed from cell sufficient statistics.

When every regressor is categorical, all units of a cell share one design row x_g, so the sandwich meat
sum_i e_i^2 x_i x_i' collapses to sum_g x_g x_g' * (sum of squared residuals in cell g), and the leverage
h_i = x_g' (X'X)^-1 x_g is the same for every unit of the cell. HC0, HC1, HC2 and HC3 (MacKinnon & White 1985,
the definitions statsmodels uses) are therefore exact from (n, sum_y, sum_y2) per cell; no unit row is needed.
"""

from __future__ import annotations

import numpy as np

COV_TYPES = ("HC0", "HC1", "HC2", "HC3")
# Leverages this close to 1 are 1 in exact arithmetic (a single unit alone identifies a coefficient).
LEVERAGE_ONE_TOLERANCE = 1e-10


def cell_residual_ss(n: np.ndarray, sum_y: np.ndarray, sum_y2: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """Sum over the units of each cell of (y_i - fitted_g)^2.

    Written as within-cell sum of squares plus n * (cell mean - fitted)^2 rather than the expanded
    sum_y2 - 2 fitted sum_y + n fitted^2, so only the within-cell part suffers the cancellation that raw sums of
    squares carry (about log10((mean/sd)^2) digits lost, as in any one-pass variance) and the fit-dependent
    part adds none.
    """
    mean = sum_y / n
    within = np.maximum(sum_y2 - sum_y * mean, 0.0)
    return within + n * (mean - fitted) ** 2


def cell_sandwich(
    design: np.ndarray,
    bread: np.ndarray,
    residual_ss: np.ndarray,
    leverage: np.ndarray,
    n_units: float,
    cov_type: str,
) -> np.ndarray:
    """Robust covariance bread · meat · bread for a design given one row per cell.

    `bread` is (X'X)^-1 over units, `residual_ss` and `leverage` are per cell. HC2 and HC3 divide by 1 - h and
    (1 - h)^2; a cell with leverage 1 (a single unit that alone identifies a coefficient) makes them infinite,
    as in statsmodels, and the caller reports that rather than a number.
    """
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type '{cov_type}' is not supported from cells; use one of {', '.join(COV_TYPES)}.")
    weight = residual_ss.astype(float)
    # A leverage of 1 computed through (X'X)^-1 comes out as 1 +- 1e-16, and 0 / 1e-32 would be a finite number
    # that means nothing (statsmodels prints such numbers): within rounding of 1 it is 1, and HC2/HC3 undefined.
    at_one = leverage > 1.0 - LEVERAGE_ONE_TOLERANCE
    if cov_type == "HC2":
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = np.where(at_one, np.inf, weight / (1.0 - leverage))
    elif cov_type == "HC3":
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = np.where(at_one, np.inf, weight / (1.0 - leverage) ** 2)
    with np.errstate(invalid="ignore"):
        meat = (design * weight[:, None]).T @ design
    cov = bread @ meat @ bread
    if cov_type == "HC1":
        k = design.shape[1]
        cov = cov * (n_units / (n_units - k))
    return (cov + cov.T) / 2.0
