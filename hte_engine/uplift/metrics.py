"""How well a score ranks units by treatment effect: one raw curve per score, and every figure derived from it.

The libraries disagree on what "Qini" and "AUUC" mean, so this module keeps the one object they all start from,
the *raw curve*: units sorted by descending score, cut wherever the score changes (tied units form one group and
are never split by row order), with the counts and outcome sums of each arm cumulated group by group and a
leading point at the origin. From it:

- Qini curve        Q(n) = Y_T(n) - Y_C(n) * N_T(n) / N_C(n)              (0 while N_C = 0)
- uplift curve      U(n) = (Y_T(n) / N_T(n) - Y_C(n) / N_C(n)) * N(n)   (each mean 0 while its count is 0)
- Qini coefficient and AUUC, normalised scikit-uplift's way (sklift 0.5.1 ``qini_auc_score`` /
  ``uplift_auc_score``): (area under the curve - area under the random line) / (the same for the perfect curve),
  where the random line joins the origin to the curve's end point, so random scores give about 0 and a perfect
  ranking gives 1. Areas are trapezoids between group points, which is the curve a random tie-break gives
  in expectation.
- uplift at k: the treated-minus-control difference in mean outcome among the top fraction k, a tie group that
  straddles the cut counting pro rata.
- TOC / AUTOC / RATE-Qini (grf's ``rank_average_treatment_effect``) on per-unit doubly-robust or
  inverse-propensity scores.

Every function takes optional non-negative unit weights: the Poisson bootstrap (``uplift_bootstrap``) reuses the
same sort and only re-weights, so a replicate costs a few cumulative sums.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class ScoreGroups:
    """Units in descending score order, cut into groups of equal score (ties)."""

    order: np.ndarray
    starts: np.ndarray
    scores: np.ndarray

    @classmethod
    def of(cls, score) -> ScoreGroups:
        score = np.asarray(score, dtype=float)
        if score.ndim != 1 or score.size == 0:
            raise ValueError("A score needs at least one unit to rank; got an empty score vector.")
        if not np.all(np.isfinite(score)):
            raise ValueError(
                f"Scores must be finite to rank units; {int((~np.isfinite(score)).sum())} are NaN or infinite."
            )
        # Stable sort on the negated score: descending order, and the order inside a tie group is irrelevant
        # because every figure below only uses whole groups.
        order = np.argsort(-score, kind="stable")
        sorted_score = score[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_score) != 0) + 1]
        return cls(order=order, starts=starts, scores=sorted_score[starts])

    @property
    def n_units(self) -> int:
        return int(self.order.size)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(np.r_[self.starts, self.n_units])

    def group_sums(self, values: np.ndarray) -> np.ndarray:
        sorted_values = np.asarray(values, dtype=float)[self.order]
        if self.starts.size == sorted_values.size:
            # No ties: every group is one unit, and reduceat would only copy (a third of a bootstrap's time).
            return sorted_values
        return np.add.reduceat(sorted_values, self.starts)


@dataclass(frozen=True)
class RawCurve:
    """Cumulative counts and outcome sums by arm at each distinct score, best score first, origin included.

    ``score[0]`` is +inf (the origin: nobody targeted yet); weights make the counts non-integer.
    """

    score: np.ndarray
    n_treated: np.ndarray
    n_control: np.ndarray
    sum_treated: np.ndarray
    sum_control: np.ndarray

    @property
    def n(self) -> np.ndarray:
        return self.n_treated + self.n_control

    def at(self, n_targeted) -> RawCurve:
        """The cumulated counts and sums after targeting ``n_targeted`` units, a straddled tie group pro rata."""
        x = np.atleast_1d(np.asarray(n_targeted, dtype=float))
        n = self.n
        return RawCurve(
            score=np.full(x.shape, np.nan),
            n_treated=np.interp(x, n, self.n_treated),
            n_control=np.interp(x, n, self.n_control),
            sum_treated=np.interp(x, n, self.sum_treated),
            sum_control=np.interp(x, n, self.sum_control),
        )


def _as_treated(treated) -> np.ndarray:
    treated = np.asarray(treated)
    # One vectorised comparison, not np.unique: this runs on every bootstrap replicate, and a sort there cost a
    # tenth of the evaluation's time. The distinct values are listed only when the check fails.
    if not np.all((treated == 0) | (treated == 1)):
        values = np.unique(treated)
        raise ValueError(
            f"The treatment indicator must be 0 (control) or 1 (treated); found values {values[:5].tolist()}."
        )
    return treated.astype(float)


def _as_weight(weight, n: int) -> np.ndarray:
    if weight is None:
        return np.ones(n)
    weight = np.asarray(weight, dtype=float)
    if weight.shape != (n,) or np.any(weight < 0) or not np.all(np.isfinite(weight)):
        raise ValueError("Unit weights must be one finite, non-negative number per unit.")
    return weight


def raw_curve(score, y, treated, weight=None, groups: ScoreGroups | None = None) -> RawCurve:
    """The raw curve of ``score``: ``groups`` may be passed to reuse one sort across bootstrap replicates."""
    groups = groups if groups is not None else ScoreGroups.of(score)
    y = np.asarray(y, dtype=float)
    t = _as_treated(treated)
    w = _as_weight(weight, y.size)
    if not (y.size == t.size == groups.n_units):
        raise ValueError(
            f"Score, outcome and treatment must have one value per unit; got {groups.n_units}, {y.size}, {t.size}."
        )
    return _sorted_raw_curve(groups, y[groups.order], t[groups.order], w[groups.order])


def _sorted_raw_curve(groups: ScoreGroups, y_sorted, t_sorted, w_sorted) -> RawCurve:
    """``raw_curve`` from arrays already in score order. Products are elementwise, so multiplying the sorted
    arrays gives the same bits as sorting the products; a bootstrap replicate then gathers its weights once per
    score instead of once per sum."""
    wt, wc = w_sorted * t_sorted, w_sorted * (1.0 - t_sorted)
    untied = groups.starts.size == groups.n_units

    def cumulated(values):
        return np.r_[0.0, np.cumsum(values if untied else np.add.reduceat(values, groups.starts))]

    return RawCurve(
        score=np.r_[np.inf, groups.scores],
        n_treated=cumulated(wt),
        n_control=cumulated(wc),
        sum_treated=cumulated(wt * y_sorted),
        sum_control=cumulated(wc * y_sorted),
    )


def _ratio(numerator, denominator):
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    return np.divide(
        numerator, denominator, out=np.zeros(np.broadcast(numerator, denominator).shape), where=denominator != 0
    )


def qini_values(raw: RawCurve) -> np.ndarray:
    """Q(n) = Y_T - Y_C * N_T / N_C: incremental outcomes among the targeted, control scaled to the treated count."""
    return raw.sum_treated - raw.sum_control * _ratio(raw.n_treated, raw.n_control)


def uplift_values(raw: RawCurve) -> np.ndarray:
    """U(n) = (mean_T - mean_C) * N: the lift among the targeted, times how many were targeted."""
    return (_ratio(raw.sum_treated, raw.n_treated) - _ratio(raw.sum_control, raw.n_control)) * raw.n


def perfect_qini_score(y, treated) -> np.ndarray:
    """scikit-uplift's perfect Qini ordering (``negative_effect=True``): treated responders first, control
    responders last. For continuous outcomes the same score orders treated units by descending outcome and
    control units by ascending outcome, the oracle ranking of the Qini curve's two sums."""
    y = np.asarray(y, dtype=float)
    t = _as_treated(treated)
    return y * t - y * (1.0 - t)


def perfect_uplift_score(y, treated, binary: bool, weight=None) -> np.ndarray:
    """scikit-uplift's perfect uplift ordering for binary outcomes; the Qini oracle ordering otherwise.

    For binary outcomes sklift puts treated responders and control non-responders first, then, depending on
    which group is larger, control responders before treated non-responders or the reverse. That construction
    has no continuous analogue, so continuous outcomes use ``perfect_qini_score`` (documented in the README).
    """
    y = np.asarray(y, dtype=float)
    t = _as_treated(treated)
    if not binary:
        return perfect_qini_score(y, t)
    w = _as_weight(weight, y.size)
    control_responders = np.sum(w * ((y == 1) & (t == 0)))
    treated_non_responders = np.sum(w * ((y == 0) & (t == 1)))
    summand = y if control_responders > treated_non_responders else t
    return 2.0 * (y == t) + summand


def _trapezoid_area(x, v) -> float:
    return float(np.trapezoid(v, x))


def normalised_area(x, values, x_perfect, values_perfect) -> float:
    """(area(curve) - area(random)) / (area(perfect) - area(random)); NaN when the perfect curve is the random
    line (e.g. all outcomes equal), because then no ranking can be told from another."""
    baseline = x_perfect[-1] * values_perfect[-1] / 2.0
    perfect = _trapezoid_area(x_perfect, values_perfect) - baseline
    actual = _trapezoid_area(x, values) - baseline
    if not np.isfinite(perfect) or abs(perfect) <= 1e-12 * max(1.0, abs(baseline)):
        return float("nan")
    return float(actual / perfect)


@dataclass(frozen=True)
class RankingEvaluator:
    """Everything needed to score one ranking against one sample, sorted once and reusable under re-weighting.

    ``binary`` selects sklift's perfect uplift curve for 0/1 outcomes.
    """

    y: np.ndarray
    treated: np.ndarray
    binary: bool
    groups: ScoreGroups
    qini_perfect_groups: ScoreGroups
    # sklift's perfect uplift ordering switches between two fixed orderings depending on weighted group counts;
    # both are sorted once so that a bootstrap replicate only re-weights.
    uplift_perfect_groups: dict
    # Arrays in score order, made on first use and reused by every bootstrap replicate.
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(
        cls, score, y, treated, binary: bool | None = None, like: RankingEvaluator | None = None
    ) -> RankingEvaluator:
        """``like``: an evaluator of another score on the same units (same y and treated), whose perfect-curve
        orderings, which depend on the outcomes alone, are reused instead of sorted again."""
        if like is not None:
            return replace(like, groups=ScoreGroups.of(score), _cache={})
        y = np.asarray(y, dtype=float)
        t = _as_treated(treated)
        if binary is None:
            binary = bool(np.isin(np.unique(y), [0.0, 1.0]).all())
        qini_groups = ScoreGroups.of(perfect_qini_score(y, t))
        if binary:
            uplift_groups = {
                True: ScoreGroups.of(2.0 * (y == t) + y),
                False: ScoreGroups.of(2.0 * (y == t) + t),
            }
        else:
            uplift_groups = {True: qini_groups, False: qini_groups}
        return cls(
            y=y,
            treated=t,
            binary=binary,
            groups=ScoreGroups.of(score),
            qini_perfect_groups=qini_groups,
            uplift_perfect_groups=uplift_groups,
        )

    def raw(self, weight=None, sorted_weight=None) -> RawCurve:
        """The raw curve under ``weight``; ``sorted_weight`` (``weight`` already in score order, from
        ``sorted_weights``) saves the gather when a bootstrap replicate also needs the TOC of the same score."""
        if sorted_weight is not None:
            return _sorted_raw_curve(self.groups, *self._sorted_outcomes(), sorted_weight)
        return raw_curve(None, self.y, self.treated, weight, groups=self.groups)

    def sorted_weights(self, weight):
        """``weight`` in this score's order (the bootstrap's fast path), None without weights."""
        if weight is None:
            return None
        return np.asarray(weight, dtype=float)[self.groups.order]

    def rate(self, unit_effect_score, q, weight=None, sorted_weight=None) -> RankAverageTreatmentEffect:
        """``rank_average_treatment_effect`` of this score, reusing its sort (and ``sorted_weight``)."""
        if sorted_weight is not None:
            key = id(unit_effect_score)
            if self._cache.get("gamma_key") != key:
                self._cache.update(
                    gamma_key=key, gamma_sorted=np.asarray(unit_effect_score, dtype=float)[self.groups.order]
                )
            gamma_sorted, q = self._cache["gamma_sorted"], np.asarray(q, dtype=float)
            if self.groups.starts.size == self.groups.n_units:
                return _untied_rate(gamma_sorted, sorted_weight, q)
            # Tied scores: each unit takes its group's weighted mean score, summed as the general path does.
            group_weight = np.add.reduceat(sorted_weight, self.groups.starts)
            group_mean = _ratio(np.add.reduceat(sorted_weight * gamma_sorted, self.groups.starts), group_weight)
            return _rate_from_sorted(np.repeat(group_mean, self.groups.sizes), sorted_weight, q)
        return rank_average_treatment_effect(None, unit_effect_score, q=q, weight=weight, groups=self.groups)

    def _sorted_outcomes(self) -> tuple[np.ndarray, np.ndarray]:
        if "y_sorted" not in self._cache:
            self._cache.update(y_sorted=self.y[self.groups.order], t_sorted=self.treated[self.groups.order])
        return self._cache["y_sorted"], self._cache["t_sorted"]

    def qini_perfect(self, weight=None) -> RawCurve:
        return raw_curve(None, self.y, self.treated, weight, groups=self.qini_perfect_groups)

    def uplift_perfect(self, weight=None) -> RawCurve:
        w = _as_weight(weight, self.y.size)
        control_responders = np.sum(w * ((self.y == 1) & (self.treated == 0)))
        treated_non_responders = np.sum(w * ((self.y == 0) & (self.treated == 1)))
        groups = self.uplift_perfect_groups[bool(control_responders > treated_non_responders)]
        return raw_curve(None, self.y, self.treated, weight, groups=groups)

    # ``perfect`` depends only on the outcomes, arms and weights, not on the score: callers ranking several
    # scores on the same sample pass it in once instead of recomputing it per score.
    def qini_coefficient(self, weight=None, raw: RawCurve | None = None, perfect: RawCurve | None = None) -> float:
        raw = raw if raw is not None else self.raw(weight)
        perfect = perfect if perfect is not None else self.qini_perfect(weight)
        return normalised_area(raw.n, qini_values(raw), perfect.n, qini_values(perfect))

    def auuc(self, weight=None, raw: RawCurve | None = None, perfect: RawCurve | None = None) -> float:
        raw = raw if raw is not None else self.raw(weight)
        perfect = perfect if perfect is not None else self.uplift_perfect(weight)
        return normalised_area(raw.n, uplift_values(raw), perfect.n, uplift_values(perfect))


def qini_curve(score, y, treated, weight=None) -> tuple[np.ndarray, np.ndarray]:
    """(number targeted, Q) at the origin and at the end of every tie group."""
    raw = raw_curve(score, y, treated, weight)
    return raw.n, qini_values(raw)


def uplift_curve(score, y, treated, weight=None) -> tuple[np.ndarray, np.ndarray]:
    """(number targeted, U) at the origin and at the end of every tie group."""
    raw = raw_curve(score, y, treated, weight)
    return raw.n, uplift_values(raw)


def qini_coefficient(score, y, treated, weight=None, binary: bool | None = None) -> float:
    """Normalised area under the Qini curve (sklift's ``qini_auc_score`` with ``negative_effect=True``)."""
    return RankingEvaluator.of(score, y, treated, binary).qini_coefficient(weight)


def auuc(score, y, treated, weight=None, binary: bool | None = None) -> float:
    """Normalised area under the uplift curve (sklift's ``uplift_auc_score``)."""
    return RankingEvaluator.of(score, y, treated, binary).auuc(weight)


def uplift_at_k(raw: RawCurve, k) -> np.ndarray:
    """Treated-minus-control mean outcome among the top fraction ``k`` (0 < k <= 1) of units.

    NaN where the top fraction holds no treated or no control unit: there is no difference to report.
    """
    k = np.atleast_1d(np.asarray(k, dtype=float))
    if np.any((k <= 0) | (k > 1)):
        raise ValueError(f"uplift at k needs fractions in (0, 1]; got {k.tolist()}.")
    top = raw.at(k * raw.n[-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        lift = top.sum_treated / top.n_treated - top.sum_control / top.n_control
    return np.where((top.n_treated > 0) & (top.n_control > 0), lift, np.nan)


@dataclass(frozen=True)
class RankAverageTreatmentEffect:
    """grf's targeting operator characteristic and its two summaries.

    ``toc[j]`` is the mean score of the top ``q[j]`` fraction minus the mean of all units; ``autoc`` weights
    the TOC uniformly over units, ``qini`` by the fraction targeted (grf ``target = "QINI"``).
    """

    q: np.ndarray
    toc: np.ndarray
    autoc: float
    qini: float
    ate: float


def rank_average_treatment_effect(
    score, unit_effect_score, q=None, weight=None, groups: ScoreGroups | None = None
) -> RankAverageTreatmentEffect:
    """TOC/AUTOC as grf computes them: unit scores averaged within tied priorities, weighted by ``weight``.

    ``unit_effect_score`` is an unbiased per-unit effect score: the doubly-robust (AIPW) score, or in a
    randomised experiment the inverse-propensity score Y * (W / e - (1 - W) / (1 - e)).
    """
    groups = groups if groups is not None else ScoreGroups.of(score)
    gamma = np.asarray(unit_effect_score, dtype=float)
    w = _as_weight(weight, gamma.size)
    if gamma.size != groups.n_units:
        raise ValueError("The effect scores must have one value per ranked unit.")
    q = np.arange(1, 101) / 100 if q is None else np.asarray(q, dtype=float)
    if groups.starts.size == groups.n_units:
        return _untied_rate(gamma[groups.order], w[groups.order], q)

    group_weight = groups.group_sums(w)
    group_mean = _ratio(groups.group_sums(w * gamma), group_weight)
    gamma_sorted = np.repeat(group_mean, groups.sizes)
    w_sorted = w[groups.order]
    return _rate_from_sorted(gamma_sorted, w_sorted, q)


def _untied_rate(gamma_sorted, w_sorted, q) -> RankAverageTreatmentEffect:
    """``rank_average_treatment_effect`` when no two units tie, from arrays in score order: each group is one
    unit, so its weighted mean is the unit's own score (computed as the general path does, for the same bits)."""
    return _rate_from_sorted(_ratio(w_sorted * gamma_sorted, w_sorted), w_sorted, q)


def _rate_from_sorted(gamma_sorted, w_sorted, q) -> RankAverageTreatmentEffect:
    cum_w = np.cumsum(w_sorted)
    total_w = cum_w[-1]
    if total_w <= 0:
        raise ValueError("The TOC needs positive total weight.")
    cum_gamma = np.cumsum(gamma_sorted * w_sorted)
    ate = cum_gamma[-1] / total_w
    toc_unit = _ratio(cum_gamma, cum_w) - ate
    autoc = float(np.sum(w_sorted * toc_unit) / total_w)
    rate_qini = float(np.sum(cum_w / total_w * w_sorted * toc_unit) / total_w)

    # The TOC at a fraction q takes whole units up to q * W and the needed part of the next one (grf).
    target = q * total_w
    idx = np.searchsorted(cum_w, target + 1e-15 * total_w, side="right")
    taken_w = np.where(idx > 0, cum_w[np.maximum(idx - 1, 0)], 0.0)
    taken_gamma = np.where(idx > 0, cum_gamma[np.maximum(idx - 1, 0)], 0.0)
    remainder = target - taken_w
    next_gamma = gamma_sorted[np.minimum(idx, gamma_sorted.size - 1)]
    toc_q = _ratio(taken_gamma + remainder * next_gamma, taken_w + remainder) - ate
    return RankAverageTreatmentEffect(q=q, toc=toc_q, autoc=autoc, qini=rate_qini, ate=float(ate))


def ipw_effect_score(y, treated, propensity) -> np.ndarray:
    """Y * (W / e - (1 - W) / (1 - e)): unbiased for the unit's effect when e is the true assignment probability."""
    y = np.asarray(y, dtype=float)
    t = _as_treated(treated)
    e = np.asarray(propensity, dtype=float)
    return y * (t / e - (1.0 - t) / (1.0 - e))


def doubly_robust_effect_score(y, treated, propensity, mu_control, mu_treated) -> np.ndarray:
    """AIPW score: mu1 - mu0 + W (Y - mu1) / e - (1 - W) (Y - mu0) / (1 - e), with out-of-fold nuisances."""
    y = np.asarray(y, dtype=float)
    t = _as_treated(treated)
    e = np.asarray(propensity, dtype=float)
    mu0 = np.asarray(mu_control, dtype=float)
    mu1 = np.asarray(mu_treated, dtype=float)
    return mu1 - mu0 + t * (y - mu1) / e - (1.0 - t) * (y - mu0) / (1.0 - e)
