"""The confidence-sequence formulas written independently of the SQL, for the reference tests and simulations.

Two forms of the same published boundary, written from two papers so that either can catch a slip in the other:

* Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas (2021), "Time-uniform central limit theory and asymptotic
  confidence sequences", Theorem 2.2: with t observations of standard deviation sigma,
      mean_t ± sigma * sqrt( 2 (t rho² + 1) / (t² rho²) * log( sqrt(t rho² + 1) / alpha ) ),
  and rho chosen to be tightest at t*: rho² = (-2 log alpha + log(-2 log alpha + 1)) / t*.
* Howard, Ramdas, McAuliffe & Sekhon (2021), "Time-uniform, nonparametric, nonasymptotic confidence sequences",
  eq. (14), the two-sided normal mixture on the sum S_t with intrinsic time V_t = t sigma² and mixture variance
  parameter r (r = sigma² / rho² here):  |S_t| <= sqrt( (V_t + r) log( (V_t + r) / (r alpha²) ) ).
"""

from __future__ import annotations

import numpy as np


def rho_squared(alpha: float, tuning_n: float) -> float:
    return (-2.0 * np.log(alpha) + np.log(-2.0 * np.log(alpha) + 1.0)) / tuning_n


def radius_waudby_smith(se, t, alpha: float, tuning_n: float):
    """Half-width from Waudby-Smith et al.: sigma = se * sqrt(t)."""
    rho2 = rho_squared(alpha, tuning_n)
    se, t = np.asarray(se, float), np.asarray(t, float)
    sigma = se * np.sqrt(t)
    return sigma * np.sqrt(2.0 * (t * rho2 + 1.0) / (t * t * rho2) * np.log(np.sqrt(t * rho2 + 1.0) / alpha))


def radius_howard(se, t, alpha: float, tuning_n: float):
    """Half-width of the mean from Howard et al.'s boundary on the sum, divided by t."""
    rho2 = rho_squared(alpha, tuning_n)
    se, t = np.asarray(se, float), np.asarray(t, float)
    sigma2 = se * se * t
    v, r = t * sigma2, sigma2 / rho2
    return np.sqrt((v + r) * np.log((v + r) / (r * alpha * alpha))) / t


def p_value_sequential(estimate, se, t, alpha: float, tuning_n: float):
    """The smallest level at which the sequence excludes 0: solve |estimate| = radius for alpha (Waudby-Smith form)."""
    rho2 = rho_squared(alpha, tuning_n)
    z = np.asarray(estimate, float) / np.asarray(se, float)
    t = np.asarray(t, float)
    return np.minimum(1.0, np.sqrt(t * rho2 + 1.0) * np.exp(-0.5 * z * z * t * rho2 / (t * rho2 + 1.0)))
