"""P(treated | x) for one treatment arm against control: where it comes from, whether the arms overlap, and
which units are trimmed.

Three sources, in the order the uplift pipeline prefers them:

- ``design``: a randomised experiment's shares. Comparing arm k with control among the units of those two arms,
  P(k | x, k or control) = s_k / (s_k + s_control) for every unit.
- ``column``: the ``propensity`` column of the assignments (probability of the arm *received*). In a two-arm
  experiment the treatment probability follows for every unit (p if treated, 1 - p if control). With three or
  more arms the pairwise probability needs both arms' probabilities, which the column does not hold, so the
  classifier below is used instead and the reason is reported.
- ``estimated``: a cross-fitted classifier of treatment on the features (experiments declared observational in
  var ``hte_uplift_observational``). Each unit's propensity comes from a model that never saw it, for the same
  reason its effect score does: an in-sample propensity overfits towards 0 and 1 and inflates the weights.

Overlap: units whose propensity lies outside [trim, 1 - trim] have effects identified only by extrapolation and
receive inverse-propensity weights large enough to dominate every average. They are trimmed (Crump, Hotz, Imbens
& Mitnik 2009, "Dealing with limited overlap in estimation of average treatment effects", whose rule of thumb is
trim = 0.1); how many, and the propensity range, are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from hte_engine.uplift.crossfit import assign_folds
from hte_engine.uplift.learners import BaseModel, fit_outcome

SOURCES = ("design", "column", "estimated")


@dataclass(frozen=True)
class Propensity:
    """Per-unit treatment probability (input order), the units kept after trimming, and the overlap figures."""

    value: np.ndarray
    keep: np.ndarray
    source: str
    note: str

    @property
    def n_trimmed(self) -> int:
        return int((~self.keep).sum())

    def overlap(self) -> dict:
        return {
            "propensity_source": self.source,
            "propensity_min": float(np.min(self.value)),
            "propensity_max": float(np.max(self.value)),
            "n_trimmed": self.n_trimmed,
            "propensity_note": self.note,
        }


def design_propensity(share_treatment: float, share_control: float, n: int) -> np.ndarray:
    total = share_treatment + share_control
    if not (share_treatment > 0 and share_control > 0):
        raise ValueError("Both arms need a positive expected_share for a design propensity.")
    return np.full(n, share_treatment / total)


def column_propensity(received: np.ndarray, treated: np.ndarray, label: str) -> np.ndarray:
    """Treatment probability from the probability of the arm received, in a two-arm experiment."""
    received = np.asarray(received, dtype=float)
    t = np.asarray(treated).astype(int)
    if np.any(~np.isfinite(received)) or np.any((received <= 0) | (received >= 1)):
        raise ValueError(
            f"dbt_hte uplift: {label}: column 'propensity' of hte_assignments must lie strictly between 0 and 1 "
            "for every unit of the experiment (a unit that could only ever get one arm says nothing about the "
            "effect); fix the values or leave the column null to use the design shares."
        )
    return np.where(t == 1, received, 1.0 - received)


def estimated_propensity(
    X: pd.DataFrame,
    treated,
    unit_id,
    folds: int,
    seed: int,
    base_model: dict | None = None,
    threads: int = 1,
    cluster=None,
) -> np.ndarray:
    """Out-of-fold P(treated | x) from the base classifier, folds stratified by arm (unit-id order, seeded).

    ``cluster`` (one resampling key per unit, ``resampling.resampling_keys``) keeps each cluster in one
    fold: units of a cluster share their treatment and features, so a classifier that saw a cluster-mate would
    predict the unit's own assignment too well and the overlap diagnostics would look worse than they are.
    """
    t = np.asarray(treated).astype(int)
    order = np.argsort(pd.Series(unit_id).astype(str).to_numpy(dtype=object), kind="stable")
    fold = np.empty(t.size, dtype=np.int64)
    fold[order] = assign_folds(t[order], folds, seed, None if cluster is None else np.asarray(cluster)[order])
    base = BaseModel.from_config(base_model, seed)
    out = np.empty(t.size)
    with threadpool_limits(limits=threads, user_api="openmp"):
        for k in range(folds):
            held, train = np.flatnonzero(fold == k), np.flatnonzero(fold != k)
            predict = fit_outcome(base, X.iloc[train], t[train], binary=True)
            out[held] = predict(X.iloc[held])
    return out


def choose_propensity(
    *,
    label: str,
    treated,
    n_arms: int,
    share_treatment: float,
    share_control: float,
    received=None,
    observational: bool = False,
    X: pd.DataFrame | None = None,
    unit_id=None,
    folds: int = 5,
    seed: int = 0,
    trim: float = 0.1,
    base_model: dict | None = None,
    threads: int = 1,
    cluster=None,
) -> Propensity:
    """The propensity of one arm-against-control comparison; see the module docstring for the rules."""
    if not 0 <= trim < 0.5:
        raise ValueError(f"var hte_uplift_propensity_trim must be in [0, 0.5); got {trim}.")
    t = np.asarray(treated).astype(int)
    has_column = received is not None and np.all(np.isfinite(np.asarray(received, dtype=float)))
    note = ""
    if observational or (has_column and n_arms > 2):
        if has_column and not observational:
            note = (
                "The propensity column holds the probability of the arm received; with more than two arms the "
                "pairwise probability is estimated by a cross-fitted classifier instead."
            )
        else:
            note = "Declared observational (var hte_uplift_observational): cross-fitted classifier."
        value, source = estimated_propensity(X, t, unit_id, folds, seed, base_model, threads, cluster), "estimated"
    elif has_column:
        value, source = column_propensity(received, t, label), "column"
    else:
        value, source = design_propensity(share_treatment, share_control, t.size), "design"
    keep = (value >= trim) & (value <= 1 - trim)
    if source == "design":
        # A design share is the same for everyone: an extreme share is a small arm, not missing overlap.
        keep = np.ones(t.size, dtype=bool)
    elif (~keep).any():
        note = (note + " " if note else "") + (
            f"{int((~keep).sum())} units with propensity outside [{trim:g}, {1 - trim:g}] are trimmed "
            "(var hte_uplift_propensity_trim)."
        )
    return Propensity(value=value, keep=keep, source=source, note=note)
