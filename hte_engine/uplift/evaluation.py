"""Out-of-fold evaluation of every learner, and the choice of the one downstream targeting uses.

All figures are computed on cross-fitted scores (``crossfit``): Qini coefficient, AUUC and uplift at k from the
raw curve (``uplift_metrics``), grf's AUTOC on doubly-robust scores, the BLP calibration test and the decile
table (``calibration``). Intervals come from one seeded Poisson bootstrap shared by all learners, so learners are
compared on the same replicates. When units carry clusters, the bootstrap resamples whole clusters and every
analytic standard error is cluster-robust: units of a cluster share outcome noise and are not independent.

The choice (README, "Which learner is chosen"): the learner with the smallest held-out doubly-robust loss
mean((Gamma_i - tau_hat_i)^2), where Gamma_i is unit i's doubly-robust effect score with out-of-fold nuisances.
Because E[(Gamma - tau_hat)^2] = E[(tau - tau_hat)^2] + a term free of tau_hat, the loss ranks learners by their
error against the true effect (Schuler et al. 2018; Saito & Yasui 2020). The winner is kept only if it also
beats the constant average effect on that loss and its BLP heterogeneity test rejects at alpha divided by the
number of candidate learners (Bonferroni, because the winner was picked among them); otherwise the chosen
"learner" is the constant, and the evaluation says no heterogeneity was detected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hte_engine.resampling import bounded_bootstrap, resampling_keys
from hte_engine.uplift.calibration import blp_calibration_test, decile_table, mean_se
from hte_engine.uplift.crossfit import CrossFitResult
from hte_engine.uplift.metrics import RankingEvaluator, qini_values, uplift_values


@dataclass(frozen=True)
class EvaluationConfig:
    """How learners are evaluated (``hte_uplift_*`` vars through ``UpliftSettings``): the level of every interval,
    the bootstrap that draws them, and the points at which curves, uplift and deciles are reported."""

    alpha: float = 0.05
    # The bootstrap: its replicates are drawn on a seeded hash sample of about bootstrap_max_units units (whole
    # clusters) when a comparison has more, and their spread is rescaled to the full sample (``bounded_bootstrap``);
    # None: every unit.
    bootstrap_replicates: int = 200
    bootstrap_max_units: int | None = 50_000
    seed: int = 0
    # What is reported: the curves' points, uplift at these shares treated, and the calibration deciles.
    curve_points: int = 100
    uplift_at: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)
    deciles: int = 10


@dataclass
class UpliftEvaluation:
    learners: pd.DataFrame
    curves: pd.DataFrame
    deciles: pd.DataFrame
    chosen: str
    heterogeneity_detected: bool
    reason: str


def _ranking_score(result: CrossFitResult, learner: str) -> np.ndarray:
    # The constant learner ranks nobody above anybody: one tie group. Its per-fold training averages differ
    # slightly, and ranking by them would read fold noise as a ranking.
    if learner == "constant":
        return np.zeros(len(result.units))
    return result.units[f"cate_{learner}"].to_numpy()


PARTS = ("learners", "curves", "deciles")


def evaluate_learners(
    result: CrossFitResult,
    config: EvaluationConfig = EvaluationConfig(),
    binary: bool | None = None,
    cluster=None,
    parts: tuple[str, ...] = PARTS,
) -> UpliftEvaluation:
    """Every figure of every learner. ``parts`` limits the work to the tables a caller needs (each dbt model
    builds one); the choice and the learner-level point figures are always computed, the bootstrap only for
    the requested parts, and a part left out comes back as an empty table. Bootstrap replicates are keyed on
    coalesce(cluster, unit id), so the figures of a part do not depend on which other parts were requested.
    ``cluster``: each unit's cluster_id in ``result.units`` order, null where a unit has none.
    """
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"Unknown evaluation parts {sorted(unknown)}; choose from {list(PARTS)}.")
    with_scalars, with_curves = "learners" in parts, "curves" in parts
    units = result.units
    y = units["y"].to_numpy()
    t = units["treated"].to_numpy()
    gamma = units["dr_score"].to_numpy()
    keys = None if cluster is None else resampling_keys(units["unit_id"], cluster)
    learners = list(result.learners)
    q_curve = np.linspace(0.0, 1.0, config.curve_points + 1)
    q_toc = q_curve[1:]
    k = np.asarray(config.uplift_at, dtype=float)
    n_scalar = (4 + k.size) if with_scalars else 0
    block = n_scalar + ((2 * q_curve.size + q_toc.size) if with_curves else 0)

    def statistic_of(rows: np.ndarray | slice, once: bool = False):
        """The vector of every learner's figures on ``rows`` of the units, as a function of bootstrap weights;
        ``once``: it will be called once (the point estimates of a bounded bootstrap), so nothing is kept."""
        yr, tr, gr = y[rows], t[rows], gamma[rows]
        first = RankingEvaluator.of(_ranking_score(result, learners[0])[rows], yr, tr, binary)

        def evaluator(name):  # the perfect curves depend on the outcomes only: sorted once, for the first learner
            return (
                first
                if name == learners[0]
                else RankingEvaluator.of(_ranking_score(result, name)[rows], yr, tr, like=first)
            )

        # The evaluators serve every bootstrap replicate, so they are made once and kept; for a single call (the
        # point estimates on every unit of a large comparison) each is made when its learner's turn comes and
        # then dropped: one learner's sorted arrays at a time, not all of them (6 M units x 5 learners).
        kept = None if once else {name: evaluator(name) for name in learners}

        def statistic(weight):
            out = []
            if with_scalars:
                qini_perfect, uplift_perfect = first.qini_perfect(weight), first.uplift_perfect(weight)
            for name in learners:
                ev = evaluator(name) if kept is None else kept[name]
                # One gather of the weights into this score's order serves the raw curve and the TOC alike.
                sorted_weight = ev.sorted_weights(weight)
                raw = ev.raw(weight, sorted_weight)
                x = q_curve * raw.n[-1]
                top = raw.at(k * raw.n[-1])
                with np.errstate(invalid="ignore", divide="ignore"):
                    at_k = np.where(
                        (top.n_treated > 0) & (top.n_control > 0),
                        top.sum_treated / top.n_treated - top.sum_control / top.n_control,
                        np.nan,
                    )
                rate = ev.rate(gr, q_toc, weight, sorted_weight)
                if with_scalars:
                    out.append(
                        np.r_[
                            ev.qini_coefficient(weight, raw, qini_perfect),
                            ev.auuc(weight, raw, uplift_perfect),
                            rate.autoc,
                            rate.qini,
                            at_k,
                        ]
                    )
                if with_curves:
                    out.append(
                        np.r_[np.interp(x, raw.n, qini_values(raw)), np.interp(x, raw.n, uplift_values(raw)), rate.toc]
                    )
            return np.concatenate(out)

        return statistic

    # Which figures grow with the number of units (the Qini and uplift curves are sums over the targeted units)
    # and which do not (coefficients, uplift at k, AUTOC, TOC): the two scale differently from a sample to the whole.
    one = np.r_[
        np.zeros(n_scalar, bool),
        np.ones(2 * q_curve.size, bool) if with_curves else np.zeros(0, bool),
        np.zeros(q_toc.size if with_curves else 0, bool),
    ]
    extensive = np.tile(one, len(learners))
    resampling = units["unit_id"].to_numpy() if keys is None else keys
    boot = (
        bounded_bootstrap(
            statistic_of,
            resampling,
            extensive,
            config.bootstrap_replicates,
            config.seed,
            config.alpha,
            config.bootstrap_max_units,
        )
        if block
        else None
    )
    bootstrap_units = None if boot is None else boot.n_units

    def part(values, i, lo, hi):
        return values[i * block + lo : i * block + hi]

    rows, curves, deciles = [], [], []
    constant = units["cate_constant"].to_numpy() if "cate_constant" in units else np.full(len(units), gamma.mean())
    constant_loss = (gamma - constant) ** 2
    for i, name in enumerate(learners):
        cate = units[f"cate_{name}"].to_numpy()
        loss = (gamma - cate) ** 2
        diff = loss - constant_loss
        calib = blp_calibration_test(
            y,
            t,
            units["propensity"],
            units["mu0"],
            units["mu1"],
            _ranking_score(result, name) if name == "constant" else cate,
            keys,
        )
        row = {
            "learner": name,
            "n_units": len(units),
            "n_treatment": int(t.sum()),
            "n_control": int((1 - t).sum()),
            "n_clusters": None if keys is None else int(pd.unique(keys).size),
            "n_train_rows": max(result.n_train_rows.values()),
            "mean_cate": float(cate.mean()),
            "sd_cate": float(cate.std(ddof=1)),
            "share_negative_cate": float(np.mean(cate < 0)),
            "bootstrap_units": bootstrap_units,
        }
        for j, label in enumerate(["qini_coefficient", "auuc", "autoc", "rate_qini"] if with_scalars else []):
            row[label] = boot.estimate[i * block + j]
            row[f"{label}_se"] = boot.std_error[i * block + j]
            row[f"{label}_ci_low"] = boot.ci_low[i * block + j]
            row[f"{label}_ci_high"] = boot.ci_high[i * block + j]
        for j, frac in enumerate(k if with_scalars else []):
            label = f"uplift_at_{int(round(frac * 100))}"
            row[label] = boot.estimate[i * block + 4 + j]
            row[f"{label}_ci_low"] = boot.ci_low[i * block + 4 + j]
            row[f"{label}_ci_high"] = boot.ci_high[i * block + 4 + j]
        row.update(
            {
                "blp_mean_prediction": calib.mean_prediction,
                "blp_mean_prediction_se": calib.mean_prediction_se,
                "blp_heterogeneity": calib.heterogeneity_loading,
                "blp_heterogeneity_se": calib.heterogeneity_loading_se,
                "blp_heterogeneity_p_value": calib.heterogeneity_p_value,
                "dr_loss": float(loss.mean()),
                "dr_loss_vs_constant": float(diff.mean()),
                "dr_loss_vs_constant_se": mean_se(diff, keys),
            }
        )
        rows.append(row)

        lo = n_scalar
        curve_parts = (
            [("qini", lo, q_curve), ("uplift", lo + q_curve.size, q_curve), ("toc", lo + 2 * q_curve.size, q_toc)]
            if with_curves
            else []
        )
        for label, offset, grid in curve_parts:
            size = grid.size
            curves.append(
                pd.DataFrame(
                    {
                        "learner": name,
                        "curve": label,
                        "point": np.arange(size),
                        "fraction_targeted": grid,
                        "value": part(boot.estimate, i, offset, offset + size),
                        "value_ci_low": part(boot.ci_low, i, offset, offset + size),
                        "value_ci_high": part(boot.ci_high, i, offset, offset + size),
                        "bootstrap_units": bootstrap_units,
                    }
                )
            )
        if "deciles" in parts:
            table = decile_table(
                cate, y, t, gamma, config.deciles, config.alpha, rank_by=_ranking_score(result, name), cluster=keys
            )
            table.insert(0, "learner", name)
            deciles.append(table)

    learners_table = pd.DataFrame(rows)
    chosen, detected, reason = choose_learner(learners_table, config.alpha)
    learners_table["is_chosen"] = learners_table["learner"] == chosen
    learners_table["heterogeneity_detected"] = detected
    learners_table["choice_reason"] = reason
    return UpliftEvaluation(
        learners=learners_table,
        curves=pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(),
        deciles=pd.concat(deciles, ignore_index=True) if deciles else pd.DataFrame(),
        chosen=chosen,
        heterogeneity_detected=detected,
        reason=reason,
    )


def choose_learner(table: pd.DataFrame, alpha: float) -> tuple[str, bool, str]:
    """(chosen learner, heterogeneity detected, the reason in a sentence). See the module docstring."""
    candidates = table[table["learner"] != "constant"].dropna(subset=["dr_loss"])
    if candidates.empty:
        return "constant", False, "Only the constant average effect was configured (var hte_uplift_learners)."
    best = candidates.sort_values(["dr_loss", "learner"]).iloc[0]
    threshold = alpha / len(candidates)
    p = best["blp_heterogeneity_p_value"]
    beats_constant = best["dr_loss_vs_constant"] < 0
    if np.isfinite(p) and p < threshold and beats_constant:
        return (
            best["learner"],
            True,
            (
                f"Learner '{best['learner']}' has the smallest held-out doubly-robust loss, beats the constant "
                f"average effect on it, and its calibration test finds heterogeneity (p = {p:.3g} < "
                f"{threshold:.3g} = alpha / {len(candidates)} learners)."
            ),
        )
    why = (
        f"its calibration test does not find heterogeneity (p = {p:.3g}, needs < {threshold:.3g})"
        if not (np.isfinite(p) and p < threshold)
        else "it does not beat the constant average effect on held-out doubly-robust loss"
    )
    return (
        "constant",
        False,
        (
            f"No heterogeneity detected: the best learner, '{best['learner']}', is not used because {why}. "
            "Everyone gets the average effect; treat the learners' spread of effects as noise."
        ),
    )
