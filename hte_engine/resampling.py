"""Seeded Poisson bootstrap keyed on the resampling unit: the resampling behind every band and interval of the
uplift evaluation.

Each replicate gives every resampling unit a Poisson(1) weight drawn from a hash of (seed, replicate, key) rather
than from a random stream, so a unit's weight does not depend on row order, on which other units are present, or
on how the data is partitioned: the same replicate can be computed in the warehouse (hash the key, invert the
Poisson CDF) or in batches and still agree. Poisson(1) weights approximate the multinomial bootstrap for large n
(Hanley & MacGibbon 2006; Chamandy et al. 2012, "Estimating uncertainty for massive data streams").

The key is coalesce(cluster_id, unit_id) (``resampling_keys``): units of one cluster share outcome noise, so
they are resampled together and get one weight, as in a cluster (block) bootstrap (Cameron, Gelbach & Miller
2008). Keying on the unit instead treats correlated units as independent and gives intervals that are too
narrow (tests/unit/test_uplift_bootstrap.py measures how much).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

# Poisson(1) has P(K > 20) < 1e-19: a 21-point CDF table covers every 53-bit uniform.
_POISSON1_CDF = stats.poisson.cdf(np.arange(21), 1.0)
# Inverting the CDF by binary search costs most of a replicate's time on a million units. A table on the top 16
# bits of the uniform gives the weight directly, except in the few bins a CDF value falls inside, where the search
# decides: the same weights, several times faster.
_TABLE_BITS = 16
_BIN_EDGES = np.arange(2**_TABLE_BITS + 1, dtype=np.float64) * 2.0**-_TABLE_BITS
_WEIGHT_OF_BIN = np.searchsorted(_POISSON1_CDF, _BIN_EDGES[:-1], side="right").astype(np.float64)
_BIN_IS_SPLIT = _WEIGHT_OF_BIN != np.searchsorted(_POISSON1_CDF, _BIN_EDGES[1:], side="left")


def resampling_keys(unit_id, cluster_id=None) -> np.ndarray:
    """coalesce(cluster_id, unit_id) as text: the unit of resampling and of cross-fitting folds."""
    units = pd.Series(unit_id).astype(str).to_numpy(dtype=object)
    if cluster_id is None:
        return units
    cluster = pd.Series(cluster_id, dtype=object)
    if len(cluster) != units.size:
        raise ValueError(f"One cluster_id (or null) per unit is needed; got {len(cluster)} for {units.size} units.")
    present = cluster.notna().to_numpy()
    return np.where(present, cluster.astype(str).to_numpy(dtype=object), units)


# Ids are hashed in chunks: their text as Python strings costs about 70 bytes a unit while it exists, 0.8 GiB for
# 6 M units at once (measured), for a result of 8 bytes a unit.
_HASH_CHUNK = 1 << 19


def _text_chunks(values, prefix: str = ""):
    """(start, the ids' text as an object array) per chunk of ``values``, each id preceded by ``prefix``."""
    values = pd.Series(values) if not isinstance(values, pd.Series) else values.reset_index(drop=True)
    for start in range(0, len(values), _HASH_CHUNK):
        text = values.iloc[start : start + _HASH_CHUNK].astype(str).to_numpy(dtype=object)
        if prefix:
            text = np.array([prefix + value for value in text], dtype=object)
        yield start, np.asarray(text, dtype=object)


def unit_hash(unit_ids, prefix: str = "") -> np.ndarray:
    """A 64-bit hash of each unit id's text (after ``prefix``), stable across runs, platforms and pandas versions'
    default dtypes."""
    n = len(unit_ids)
    out = np.empty(n, dtype=np.uint64)
    for start, text in _text_chunks(unit_ids, prefix):
        out[start : start + text.size] = pd.util.hash_array(text, categorize=False)
    return out


def _splitmix64(x: np.ndarray) -> np.ndarray:
    # splitmix64's finaliser (Steele, Lea & Flood 2014): decorrelates nearby inputs such as consecutive replicates.
    # uint64 arithmetic wraps modulo 2**64 by itself; in place, it makes one copy of the input, not ten.
    with np.errstate(over="ignore"):
        x = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
        return x


def poisson_weights(hashes: np.ndarray, replicate: int, seed: int) -> np.ndarray:
    """Poisson(1) weight of every unit in one replicate, a pure function of (seed, replicate, unit hash)."""
    key = _splitmix64(np.array([(int(seed) & 0xFFFFFFFF) << 32 | (int(replicate) & 0xFFFFFFFF)], dtype=np.uint64))
    return poisson1_quantile(_splitmix64(np.asarray(hashes, dtype=np.uint64) ^ key[0]))


def poisson1_quantile(mixed: np.ndarray) -> np.ndarray:
    """The Poisson(1) quantile of the uniform (mixed >> 11) * 2**-53 of each 64-bit value, as float weights."""
    # The uniform's top 16 bits are mixed's.
    top = (mixed >> np.uint64(64 - _TABLE_BITS)).astype(np.intp)
    weights = _WEIGHT_OF_BIN[top]
    split = np.flatnonzero(_BIN_IS_SPLIT[top])
    if split.size:
        uniform = (mixed[split] >> np.uint64(11)).astype(np.float64) * 2.0**-53
        weights[split] = np.searchsorted(_POISSON1_CDF, uniform, side="right")
    return weights


@dataclass(frozen=True)
class BootstrapInterval:
    """Point estimate with the bootstrap standard error and percentile interval, per statistic."""

    estimate: np.ndarray
    std_error: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray


@dataclass(frozen=True)
class BootstrapSummary(BootstrapInterval):
    """A bootstrap on every unit, with its replicates (one row each)."""

    replicates: np.ndarray


def bootstrap(
    statistic: Callable[[np.ndarray | None], np.ndarray],
    keys,
    n_replicates: int,
    seed: int,
    alpha: float = 0.05,
) -> BootstrapSummary:
    """Evaluate ``statistic(weights)`` on the data (weights None) and on ``n_replicates`` Poisson replicates.

    ``keys`` holds one resampling key per unit: the unit id, or ``resampling_keys(unit_id, cluster_id)`` so that
    units sharing a key share their weight. The statistic returns a 1-d array; NaN replicates (e.g. a replicate
    with no control unit in a top group) are left out of that statistic's spread rather than invented.
    """
    if n_replicates < 2:
        raise ValueError(f"A bootstrap needs at least 2 replicates to estimate a spread; got {n_replicates}.")
    hashes = unit_hash(keys)
    estimate = np.atleast_1d(np.asarray(statistic(None), dtype=float))
    draws = np.empty((n_replicates, estimate.size))
    for b in range(n_replicates):
        draws[b] = np.atleast_1d(np.asarray(statistic(poisson_weights(hashes, b, seed)), dtype=float))
    with warnings.catch_warnings():
        # Statistics undefined in every replicate stay NaN; numpy's all-NaN warnings say nothing more.
        warnings.simplefilter("ignore", RuntimeWarning)
        finite = np.isfinite(draws)
        enough = finite.sum(axis=0) >= 2
        std_error = np.where(enough, np.nanstd(np.where(finite, draws, np.nan), axis=0, ddof=1), np.nan)
        low = np.where(enough, np.nanquantile(np.where(finite, draws, np.nan), alpha / 2, axis=0), np.nan)
        high = np.where(enough, np.nanquantile(np.where(finite, draws, np.nan), 1 - alpha / 2, axis=0), np.nan)
    return BootstrapSummary(estimate=estimate, std_error=std_error, ci_low=low, ci_high=high, replicates=draws)


def bounded_sample(keys, max_units: int, seed: int) -> np.ndarray:
    """A boolean mask keeping about ``max_units`` of the units, all of them when there are no more: a unit is kept
    when the hash of (seed, its resampling key) falls below the kept fraction. Deterministic (the same inputs give
    the same sample on every build, whatever the row order) and whole clusters are kept or dropped together, as
    ``io.bounded_units`` samples in the warehouse."""
    n = len(keys)
    if n <= max_units:
        return np.ones(n, dtype=bool)
    uniform = (unit_hash(keys, prefix=f"{int(seed)}:") >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return uniform < max_units / n


# Below this many units an m-out-of-n bootstrap's rescaled spread is itself noisy; the simulations that check its
# coverage (tests/unit/test_uplift_bootstrap.py, test_policy_value.py) draw on 1,000 to 1,500.
MIN_BOOTSTRAP_UNITS = 1_000


def bootstrap_units_setting(value, var: str) -> int | None:
    """A var bounding the units bootstrap replicates are drawn on: a whole number of at least
    ``MIN_BOOTSTRAP_UNITS``, or 0 (or null) for every unit (None)."""
    if value in (None, "", "None"):
        return None
    try:
        units = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"var {var} must be a whole number of units (0 for every unit); got {value!r}.") from None
    if units == 0:
        return None
    if units < MIN_BOOTSTRAP_UNITS:
        raise ValueError(
            f"var {var} must be 0 (every unit) or at least {MIN_BOOTSTRAP_UNITS:,} units, for the "
            f"rescaled intervals to hold; got {value!r}."
        )
    return units


@dataclass(frozen=True)
class BoundedBootstrap(BootstrapInterval):
    """A bootstrap whose replicates were drawn on ``n_units`` units (every unit, or a bounded sample)."""

    n_units: int


def bounded_bootstrap(
    statistic_of,
    resampling_keys_,
    extensive: np.ndarray,
    n_replicates: int,
    seed: int,
    alpha: float,
    max_units: int | None,
) -> BoundedBootstrap:
    """The Poisson bootstrap of ``statistic_of(rows)`` (``statistic_of(rows, once=True)`` for a single call),
    with replicates drawn on at most about ``max_units`` units (None: every unit).

    With more units than that, the point estimates stay those of every unit, and the replicates are drawn on a
    seeded hash sample of m of the n units (whole clusters; ``bounded_sample``): an m-out-of-n
    bootstrap (Bickel, Goetze & van Zwet 1997; Politis & Romano 1994). Each replicate's deviation from the
    sample's own estimate is rescaled to the full sample, by sqrt(m / n) for figures that are averages or ratios
    (their spread shrinks as 1 / sqrt(units)) and by sqrt(n / m) for the curves' sums (their spread grows as
    sqrt(units)), then added to the full-sample estimate: standard error sd * scale, interval
    estimate + scale * (percentile - sample estimate). tests/unit/test_uplift_bootstrap.py checks the standard errors
    against the bootstrap on every unit and the intervals' coverage in simulation. The cost no longer grows with
    the comparison: at 600,000 units a replicate costs what it costs at m.
    """
    n = len(resampling_keys_)
    if max_units is None or n <= max_units:
        full = bootstrap(statistic_of(slice(None)), resampling_keys_, n_replicates, seed, alpha)
        return BoundedBootstrap(full.estimate, full.std_error, full.ci_low, full.ci_high, n)
    keep = bounded_sample(resampling_keys_, max_units, seed)
    rows = np.flatnonzero(keep)
    m = rows.size
    sample = bootstrap(statistic_of(rows), np.asarray(resampling_keys_, dtype=object)[rows], n_replicates, seed, alpha)
    estimate = np.atleast_1d(np.asarray(statistic_of(slice(None), once=True)(None), dtype=float))
    scale = np.where(extensive, np.sqrt(n / m), np.sqrt(m / n))
    return BoundedBootstrap(
        estimate=estimate,
        std_error=sample.std_error * scale,
        ci_low=estimate + scale * (sample.ci_low - sample.estimate),
        ci_high=estimate + scale * (sample.ci_high - sample.estimate),
        n_units=m,
    )
