"""One scheduled run of targeting, summarised for ``hte_targeting_history``: what the deployed policy does, how the
scores are distributed and how far they moved since the previous run, and each segment's lift by assignment week.

A history table is only useful if a rerun does not rewrite it and nothing earlier is lost, so every row carries the
run date (``var hte_run_date``, else today in UTC) and the model replaces exactly the rows of that date: the
incremental model's unique key is (run_date, experiment_id).

Population stability index (Siddiqi 2006, "Credit Risk Scorecards", ch. 8; Yurdakul 2018) of the current scores
against the previous run's, over the previous run's score deciles:

    PSI = sum_b (c_b - p_b) * ln(c_b / p_b)

with p_b and c_b the previous and current shares of units in bin b. Deciles with tied edges (many units on the
same score) are merged, so the previous shares are stored beside the edges rather than assumed to be 10% each.
Shares are floored at ``PSI_FLOOR`` so an empty bin gives a large, finite index. Conventional reading: below 0.1
stable, 0.1-0.25 moderate shift, above 0.25 a major shift.

Segment lift by assignment week: the difference in mean outcome between a treatment arm and control among the
segment's units assigned in that week (weeks start on Monday), with Welch's unequal-variance standard error
and a normal interval, the estimator of ``hte_segment_lifts`` restricted to one week's cohort.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from scipy import stats

from hte_engine import io
from hte_engine.io import to_pandas

PSI_FLOOR = 1e-4
MISSING = "(missing)"
QUANTILES = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
ROW_RUN = "run"
ROW_SEGMENT_WEEK = "segment_week"

COLUMNS = {
    "run_date": "datetime64[us]", "run_at": "datetime64[us]", "experiment_id": "string", "row_type": "string",
    "row_key": "string", "policy": "string", "n_units": "Int64", "n_treated": "Int64", "n_explore": "Int64",
    "fraction_treated": "float64", "spend": "float64", "expected_value": "float64",
    **{f"score_q{round(q * 100):02d}": "float64" for q in QUANTILES},
    "score_decile_edges": "string", "score_decile_shares": "string", "psi": "float64",
    "psi_previous_run_date": "datetime64[us]", "metric": "string", "arm": "string", "control_arm": "string",
    "dimension": "string", "segment": "string", "assignment_week": "datetime64[us]", "n_treatment": "Int64",
    "n_control": "Int64", "mean_treatment": "float64", "mean_control": "float64", "lift": "float64",
    "lift_se": "float64", "lift_ci_low": "float64", "lift_ci_high": "float64",
}  # fmt: skip


def decile_bins(scores) -> tuple[list[float], list[float]]:
    """The scores' decile edges (deduplicated) and the share of scores in each bin they delimit."""
    x = np.asarray(scores, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return [], []
    edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, 11)))
    return edges.tolist(), bin_shares(x, edges).tolist()


def bin_shares(scores, edges) -> np.ndarray:
    """Shares of ``scores`` in the bins cut at the interior ``edges``; the outer bins are open, so scores beyond
    the previous run's range still count."""
    x = np.asarray(scores, dtype=float)
    x = x[np.isfinite(x)]
    cuts = np.asarray(edges, dtype=float)[1:-1]
    counts = np.bincount(np.searchsorted(cuts, x, side="right"), minlength=cuts.size + 1)
    return counts / max(x.size, 1)


def population_stability(previous_shares, current_shares) -> float:
    """PSI between two share vectors over the same bins."""
    p = np.maximum(np.asarray(previous_shares, dtype=float), PSI_FLOOR)
    c = np.maximum(np.asarray(current_shares, dtype=float), PSI_FLOOR)
    if p.shape != c.shape:
        raise ValueError("dbt_hte targeting history: the previous and current score shares cover different bins.")
    return float(np.sum((c - p) * np.log(c / p)))


def run_summary(units: pd.DataFrame, previous: pd.DataFrame | None, control_arms: dict[str, str]) -> pd.DataFrame:
    """One row per experiment of ``hte_targeting_units``: the deployed policy's reach, spend and expected value,
    quantiles and deciles of the best-arm net value, and its PSI against the experiment's previous run (the
    ``run`` rows of ``previous``, one per experiment; none on the first run)."""
    prior = {}
    if previous is not None and len(previous):
        prior = {str(r.experiment_id): r for r in previous.itertuples(index=False)}
    rows = []
    for eid, part in units.groupby("experiment_id", sort=True):
        score = part["best_net_value"].to_numpy(dtype=float)
        # Exploration may draw the control arm: a unit is treated when its arm is not control, whatever the reason.
        treated = part["chosen_arm"].astype(str) != control_arms[str(eid)]
        edges, shares = decile_bins(score)
        row = {
            "experiment_id": str(eid),
            "row_type": ROW_RUN,
            "row_key": ROW_RUN,
            "policy": str(part["policy"].iloc[0]),
            "n_units": len(part),
            "n_treated": int(treated.sum()),
            "n_explore": int(part["is_exploration"].astype(bool).sum()),
            "fraction_treated": float(treated.mean()),
            "spend": float(part["expected_cost"].sum()),
            "expected_value": float(part["expected_net_value"].sum()),
            "score_decile_edges": json.dumps(edges),
            "score_decile_shares": json.dumps(shares),
        }
        finite = score[np.isfinite(score)]
        for q in QUANTILES:
            row[f"score_q{round(q * 100):02d}"] = float(np.quantile(finite, q)) if finite.size else np.nan
        before = prior.get(str(eid))
        if before is not None and before.score_decile_edges:
            old_edges = json.loads(before.score_decile_edges)
            old_shares = json.loads(before.score_decile_shares)
            if old_edges:
                row["psi"] = population_stability(old_shares, bin_shares(score, old_edges))
                row["psi_previous_run_date"] = pd.Timestamp(before.run_date)
        rows.append(row)
    return pd.DataFrame(rows)


def segment_week_lifts(
    units: pd.DataFrame,
    assignments: pd.DataFrame,
    experiments: pd.DataFrame,
    segment_columns: list[str],
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per experiment x target metric x treatment arm x dimension x segment x assignment week: the lift of the
    arm over control with Welch's standard error and a normal interval. ``units`` are int_hte_units rows."""
    z = stats.norm.ppf(1 - alpha / 2)
    weeks = assignments[["experiment_id", "unit_id", "assigned_at"]].drop_duplicates(["experiment_id", "unit_id"])
    assigned = pd.to_datetime(weeks["assigned_at"])
    weeks = weeks.assign(assignment_week=(assigned - pd.to_timedelta(assigned.dt.day_of_week, unit="D")).dt.normalize())
    frames = []
    for eid, declared in experiments.groupby("experiment_id", sort=True):
        target = declared["target_metric"].dropna()
        control = declared.loc[declared["is_control"].astype(bool), "arm"]
        if target.empty or control.empty:
            continue
        metric, control_arm = str(target.iloc[0]), str(control.iloc[0])
        rows = units[(units["experiment_id"] == eid) & (units["metric"] == metric)]
        rows = rows.merge(
            weeks[["experiment_id", "unit_id", "assignment_week"]], on=["experiment_id", "unit_id"], how="left"
        )
        for dimension in segment_columns:
            # A wide feature table leaves other experiments' columns empty (int_hte_units labels them MISSING):
            # a dimension with no observed level is not one of this experiment's segmentations.
            if dimension not in rows or rows[dimension].isna().all() or (rows[dimension] == MISSING).all():
                continue
            stats_ = (
                rows.dropna(subset=[dimension, "assignment_week"])
                .groupby([dimension, "assignment_week", "arm"], observed=True)["y"]
                .agg(n="count", mean="mean", var="var")
                .reset_index()
            )
            ctrl = stats_[stats_["arm"] == control_arm].drop(columns="arm")
            trt = stats_[stats_["arm"] != control_arm]
            both = trt.merge(ctrl, on=[dimension, "assignment_week"], suffixes=("_t", "_c"))
            if both.empty:
                continue
            # Welch: each arm's own variance; a cell with a single unit has no variance, so no interval.
            se = np.sqrt(both["var_t"] / both["n_t"] + both["var_c"] / both["n_c"])
            lift = both["mean_t"] - both["mean_c"]
            frames.append(
                pd.DataFrame(
                    {
                        "experiment_id": str(eid),
                        "row_type": ROW_SEGMENT_WEEK,
                        "metric": metric,
                        "arm": both["arm"].astype(str),
                        "control_arm": control_arm,
                        "dimension": dimension,
                        "segment": both[dimension].astype(str),
                        "assignment_week": both["assignment_week"],
                        "n_treatment": both["n_t"],
                        "n_control": both["n_c"],
                        "mean_treatment": both["mean_t"],
                        "mean_control": both["mean_c"],
                        "lift": lift,
                        "lift_se": se,
                        "lift_ci_low": lift - z * se,
                        "lift_ci_high": lift + z * se,
                    }
                )
            )
    if not frames:
        return pd.DataFrame(columns=["experiment_id", "row_type"])
    out = pd.concat(frames, ignore_index=True)
    out["row_key"] = (
        ROW_SEGMENT_WEEK
        + ":"
        + out["metric"]
        + ":"
        + out["arm"]
        + ":"
        + out["dimension"]
        + "="
        + out["segment"]
        + ":"
        + out["assignment_week"].astype(str)
    )
    return out


@dataclass(frozen=True)
class HistoryRun:
    """One run of the history: the date every row carries, when it ran, and what its segment-week lifts are cut
    by and at which level. Build it with ``HistoryRun.of``, which stamps both times the way the table stores them."""

    run_date: pd.Timestamp
    run_at: pd.Timestamp
    segment_columns: tuple[str, ...]
    alpha: float = 0.05

    @classmethod
    def of(cls, run_date, run_at, segment_columns, alpha: float = 0.05) -> HistoryRun:
        # Dates travel as midnight timestamps: pandas has no date type every warehouse reads, and an all-null
        # column of date objects would land untyped. The run time is stored as naive UTC.
        stamp = pd.Timestamp(run_at)
        stamp = stamp if stamp.tzinfo is None else stamp.tz_convert("UTC").tz_localize(None)
        return cls(pd.Timestamp(run_date).normalize(), stamp, tuple(segment_columns), alpha)


def history_rows(
    run: HistoryRun,
    units_table: pd.DataFrame,
    previous_runs: pd.DataFrame | None,
    units: pd.DataFrame,
    assignments: pd.DataFrame,
    experiments: pd.DataFrame,
) -> pd.DataFrame:
    """This run's rows of ``hte_targeting_history``: the run summaries, then the segment-week lifts.

    ``previous_runs``: the history's latest ``run`` row per experiment dated before the run date (None on the
    first run), so a rerun on the same date compares with the same previous run and writes the same rows.
    """
    control = experiments[experiments["is_control"].astype(bool)]
    summary = run_summary(
        units_table, previous_runs, dict(zip(control["experiment_id"].astype(str), control["arm"].astype(str)))
    )
    priced = experiments[experiments["experiment_id"].isin(units_table["experiment_id"].unique())]
    lifts = segment_week_lifts(units, assignments, priced, list(run.segment_columns), run.alpha)
    out = pd.concat([summary, lifts], ignore_index=True)
    out["run_date"] = run.run_date
    out["run_at"] = run.run_at
    for column, dtype in COLUMNS.items():
        if column not in out:
            out[column] = pd.Series(pd.NA if dtype in ("string", "Int64") else None, index=out.index).astype(dtype)
        else:
            out[column] = out[column].astype(dtype)
    return out[list(COLUMNS)].reset_index(drop=True)


# The hte_targeting_units columns a run summary reads.
SUMMARY_COLUMNS = [
    "experiment_id",
    "unit_id",
    "policy",
    "chosen_arm",
    "expected_net_value",
    "expected_cost",
    "is_exploration",
    "best_net_value",
]


def history_table(
    run: HistoryRun, units_table, previous_runs: pd.DataFrame | None, units, assignments, experiments
) -> pd.DataFrame:
    """``history_rows`` one experiment at a time: each experiment's targeted units, its target metric's unit rows
    (the segment columns only) and its assignment times are read from the warehouse, summarised and released
    before the next experiment's. Inputs are pandas frames or warehouse relations (``hte_engine.io``)."""
    experiments = to_pandas(experiments)
    targeted = io.group_counts(units_table, ["experiment_id"])
    frames = []
    for eid in sorted(targeted["experiment_id"].astype(str)):
        declared = experiments[experiments["experiment_id"].astype(str) == eid]
        target = declared["target_metric"].dropna()
        metric = [str(target.iloc[0])] if len(target) else []
        unit_columns = [
            c
            for c in ["experiment_id", "unit_id", "arm", "metric", "y", *run.segment_columns]
            if c in list(units.columns)
        ]
        previous = None if previous_runs is None else previous_runs[previous_runs["experiment_id"].astype(str) == eid]
        frames.append(
            history_rows(
                run,
                # Unit-level reads through Arrow (``io.to_pandas``), not a Python object per text value.
                io.fetch(units_table, SUMMARY_COLUMNS, compact=True, experiment_id=eid),
                previous,
                io.fetch(units, unit_columns, compact=True, experiment_id=eid, metric=metric),
                io.fetch(assignments, ["experiment_id", "unit_id", "assigned_at"], compact=True, experiment_id=eid),
                declared,
            )
        )
    if not frames:
        return history_rows(
            run,
            pd.DataFrame(columns=SUMMARY_COLUMNS),
            previous_runs,
            pd.DataFrame(columns=["experiment_id", "unit_id", "arm", "metric", "y"]),
            pd.DataFrame(columns=["experiment_id", "unit_id", "assigned_at"]),
            experiments.head(0),
        )
    return pd.concat(frames, ignore_index=True)


def targeting_history_table(
    units_table, units, assignments, experiments, existing_history, settings, run_at: datetime | None = None
) -> pd.DataFrame:
    """This run's rows of hte_targeting_history. ``settings`` (TargetingSettings) gives the run date (var
    hte_run_date; None: the UTC date of ``run_at``, now by default), the segment columns and alpha;
    ``existing_history`` is the history so far (a relation or frame; None on the first run or a full refresh),
    whose latest earlier run per experiment is the reference of the population stability index."""
    run_at = run_at or datetime.now(UTC)
    run_date = settings.run_date or run_at.date().isoformat()
    previous = None if existing_history is None else previous_runs(existing_history, run_date)
    run = HistoryRun.of(run_date, run_at, settings.segment_columns, settings.alpha)
    return history_table(run, units_table, previous, units, assignments, experiments)


def previous_runs(history, run_date) -> pd.DataFrame:
    """The latest ``run`` row per experiment dated before ``run_date`` in the existing history (a relation or a
    frame): the reference of the population stability index. Only the run rows are read (one per date and
    experiment), so the choice of the latest is made in pandas, with no window function to translate."""
    runs = io.fetch(history, None, row_type=ROW_RUN)
    if runs.empty:
        return runs
    earlier = runs[pd.to_datetime(runs["run_date"]) < pd.Timestamp(run_date).normalize()]
    latest = earlier.sort_values("run_date").groupby("experiment_id", sort=True).tail(1)
    return latest.reset_index(drop=True)
