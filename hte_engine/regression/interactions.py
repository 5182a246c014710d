"""Interaction regressions: do segments really differ in their response to treatment?

For each experiment x metric x treatment arm (against the control arm) this fits

    y = b0 + b1 T + sum_s b2_s S_s + sum_s b3_s T S_s

per dimension (`model = 'marginal'`), and one model with every dimension's main effects and treatment
interactions together (`model = 'adjusted'`), so a dimension's differential effect is estimated holding the
others fixed. Every regressor is categorical, so the fits are exact from the warehouse cell statistics
(`hte_engine.regression.cells`). The same design builder serves the unit-level fits
(`hte_engine.regression.units`), where each unit is a cell of one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from hte_engine.regression.cells import LinearFit, fit_cell_ols
from hte_engine.regression.shrinkage import MIN_SEGMENTS, shrink_segment_effects
from hte_engine.settings import binary_metric_names, meta_values

MISSING_LEVEL = "(missing)"

REGRESSION_COLUMNS = [
    "experiment_id", "metric", "arm", "control_arm", "model", "dimension", "segment", "term", "role",
    "estimate", "std_error", "ci_low", "ci_high", "p_value", "statistic", "df", "status", "reason",
    "fit_source", "cov_type", "n_units",
    "marginal_estimate", "shrunk_estimate", "shrunk_ci_low", "shrunk_ci_high",
    "se_unadjusted", "se_reduction", "covariates",
]  # fmt: skip

TEST_COLUMNS = [
    "experiment_id", "metric", "arm", "control_arm", "dimension", "test", "statistic", "df", "p_value",
    "p_value_adj", "status", "reason",
]  # fmt: skip

P_ADJUST_METHODS = {"holm": "holm", "bh": "fdr_bh", "bonferroni": "bonferroni"}

P_ADJUST_FAMILIES = {
    "experiment_metric_arm": ["experiment_id", "metric", "arm"],
    "experiment_metric_arm_dimension": ["experiment_id", "metric", "arm", "dimension"],
    "experiment": ["experiment_id"],
}


@dataclass(frozen=True)
class RegressionSettings:
    """What the dbt project configures (vars reaching the Python models through `config: meta:`)."""

    cov_type: str = "HC1"
    alpha: float = 0.05
    p_adjust: str = "holm"
    p_adjust_family: str = "experiment_metric_arm"
    reference_segments: Mapping[str, str] = field(default_factory=dict)
    binary_model: str = "lpm"
    covariate_adjustment: bool = True
    max_unit_rows: int = 1_000_000
    seed: int = 0
    # the data's description (vars hte_segment_columns, hte_feature_columns, hte_metrics' binary ones)
    segment_columns: tuple[str, ...] = ()
    feature_columns: tuple[str, ...] = ()
    binary_metrics: tuple[str, ...] = ()

    @classmethod
    def from_meta(cls, meta: Mapping) -> RegressionSettings:
        """Settings from a Python model's `config: meta:`; keys are the var names without the `hte_` prefix."""
        meta = meta_values(meta)
        known = {
            "cov_type": "regression_cov_type", "alpha": "alpha", "p_adjust": "p_adjust",
            "p_adjust_family": "p_adjust_family", "reference_segments": "regression_reference_segment",
            "binary_model": "regression_binary_model", "covariate_adjustment": "regression_covariate_adjustment",
            "max_unit_rows": "regression_max_unit_rows", "seed": "regression_seed",
        }  # fmt: skip
        values = {field_name: meta[key] for field_name, key in known.items() if meta.get(key) is not None}
        if "alpha" in values:
            values["alpha"] = float(values["alpha"])
        if "max_unit_rows" in values:
            values["max_unit_rows"] = int(values["max_unit_rows"])
        if isinstance(values.get("covariate_adjustment"), str):
            values["covariate_adjustment"] = values["covariate_adjustment"].strip().lower() == "true"
        values["segment_columns"] = tuple(meta.get("segment_columns") or ())
        values["feature_columns"] = tuple(meta.get("feature_columns") or ())
        values["binary_metrics"] = binary_metric_names(meta)
        return cls(**values)

    def __post_init__(self) -> None:
        if self.p_adjust not in P_ADJUST_METHODS:
            raise ValueError(
                f"hte_p_adjust '{self.p_adjust}' is not a known adjustment; use one of {', '.join(P_ADJUST_METHODS)}."
            )
        if self.cov_type not in ("HC0", "HC1", "HC2", "HC3"):
            raise ValueError(
                f"hte_regression_cov_type '{self.cov_type}' is not supported; use HC0, HC1 (default), HC2 or HC3. "
                "Cluster-robust errors are used automatically when assignments carry cluster_id."
            )
        if self.p_adjust_family not in P_ADJUST_FAMILIES:
            raise ValueError(
                f"hte_p_adjust_family '{self.p_adjust_family}' is not known; use one of {', '.join(P_ADJUST_FAMILIES)}."
            )
        if self.max_unit_rows < 1:
            raise ValueError(
                f"hte_regression_max_unit_rows must be a positive number of rows; got {self.max_unit_rows}."
            )
        if self.binary_model not in ("lpm", "logit"):
            raise ValueError(
                f"hte_regression_binary_model '{self.binary_model}' is not supported; use 'lpm' (linear "
                "probability model, the default) or 'logit' (average marginal effects from a logistic model)."
            )


@dataclass(frozen=True)
class Term:
    """One regressor: its column name in the output and what its coefficient means."""

    name: str
    role: str
    dimension: str | None = None
    segment: str | None = None


@dataclass(frozen=True)
class InteractionDesign:
    """The terms of an interaction model; `matrix` turns arms and segment levels into design rows."""

    terms: tuple[Term, ...]
    dimensions: tuple[str, ...]
    references: Mapping[str, str]
    levels: Mapping[str, tuple[str, ...]]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.terms)

    def columns(self, role: str, dimension: str | None = None) -> np.ndarray:
        return np.array(
            [i for i, t in enumerate(self.terms) if t.role == role and (dimension is None or t.dimension == dimension)],
            dtype=int,
        )

    def matrix(self, treated: np.ndarray, segments: pd.DataFrame) -> np.ndarray:
        treated = np.asarray(treated, dtype=float)
        x = np.zeros((len(treated), len(self.terms)))
        # Each dimension's labels read once, not once per term: with Arrow-backed strings a column read costs a
        # conversion, and the design has many terms per dimension (it was half of the regressions' time).
        labels = {d: segments[d].to_numpy(dtype=object) for d in {t.dimension for t in self.terms if t.dimension}}
        for j, term in enumerate(self.terms):
            if term.role == "baseline":
                x[:, j] = 1.0
            elif term.role == "treatment":
                x[:, j] = treated
            else:
                indicator = (labels[term.dimension] == term.segment).astype(float)
                x[:, j] = indicator * treated if term.role == "interaction" else indicator
        return x

    def treatment_effect_weights(self, segments: pd.DataFrame, n: np.ndarray, dimension: str, level: str) -> np.ndarray:
        """Contrast giving the average effect of treatment over the units of one segment.

        It is the n-weighted mean, over that segment's cells, of x(T=1) - x(T=0). In a marginal model this is
        b1 + b3_s; in the adjusted model it also averages the other dimensions' interactions over their mix
        inside the segment, so it remains the segment's effect rather than the effect at every other
        dimension's reference level.
        """
        inside = segments[dimension].to_numpy() == level
        ones = np.ones(int(inside.sum()))
        derivative = self.matrix(ones, segments[inside]) - self.matrix(0 * ones, segments[inside])
        w = np.asarray(n, dtype=float)[inside]
        return (derivative * w[:, None]).sum(axis=0) / w.sum()


def interaction_design(levels: Mapping[str, Sequence[str]], references: Mapping[str, str]) -> InteractionDesign:
    """Intercept, treatment, then each dimension's non-reference segments, then their treatment interactions.

    The order matters: when the design is singular, the later (more specific) term is the one declared aliased.
    """
    dimensions = tuple(levels)
    terms = [Term("intercept", "baseline"), Term("treatment", "treatment")]
    others = {d: [lv for lv in levels[d] if lv != references[d]] for d in dimensions}
    terms += [Term(f"{d}={lv}", "segment", d, lv) for d in dimensions for lv in others[d]]
    terms += [Term(f"treatment:{d}={lv}", "interaction", d, lv) for d in dimensions for lv in others[d]]
    return InteractionDesign(
        terms=tuple(terms),
        dimensions=dimensions,
        references=dict(references),
        levels={d: tuple(levels[d]) for d in dimensions},
    )


def experiment_dimensions(cells: pd.DataFrame, dimensions: Sequence[str]) -> list[str]:
    """Dimensions that are part of the experiment: at least one cell with a known level."""
    return [d for d in dimensions if d in cells.columns and (cells[d] != MISSING_LEVEL).any()]


def reference_segments(
    cells: pd.DataFrame, dimensions: Sequence[str], configured: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Reference level per dimension: the configured one if present, else the largest (ties: first by name).

    The largest segment is the default because its coefficients (the baseline and the treatment effect) are
    then the most precise, and every interaction reads as "how this segment differs from the bulk".
    Returns the references and, per dimension, a note when the configured level was not found.
    """
    references, notes = {}, {}
    for d in dimensions:
        sizes = cells.groupby(d, observed=True)["n"].sum()
        largest = sorted(sizes.index, key=lambda lv: (-sizes[lv], str(lv)))[0]
        wanted = configured.get(d)
        if wanted is not None and wanted in sizes.index:
            references[d] = wanted
        else:
            references[d] = largest
            if wanted is not None:
                notes[d] = (
                    f"configured reference segment '{wanted}' of dimension '{d}' has no units in this experiment; "
                    f"the largest segment '{largest}' is the reference instead"
                )
    return references, notes


def collapse_cells(cells: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Sum the cell statistics over every column not in `keys` (cells are summable)."""
    return cells.groupby(list(keys), observed=True, sort=True)[["n", "sum_y", "sum_y2"]].sum().reset_index()


def one_arm_segments(cells: pd.DataFrame, dimension: str, treatment_arm: str, control_arm: str) -> dict[str, str]:
    """Segments with units in only one of the two arms: their interaction is not identified."""
    arms = cells[cells["n"] > 0].groupby(dimension, observed=True)["arm"].agg(lambda a: set(a))
    lonely = {}
    for level, present in arms.items():
        if present == {treatment_arm}:
            lonely[level] = treatment_arm
        elif present == {control_arm}:
            lonely[level] = control_arm
    return lonely


@dataclass
class ComparisonKeys:
    """Identifies one treatment arm against its control for one metric of one experiment."""

    experiment_id: str
    metric: str
    arm: str
    control_arm: str

    def keys(self) -> dict[str, str]:
        return {
            "experiment_id": self.experiment_id,
            "metric": self.metric,
            "arm": self.arm,
            "control_arm": self.control_arm,
        }


def model_status(result: LinearFit, total_ss: float) -> tuple[str, str | None]:
    """Why a fitted model's standard errors cannot be used, if they cannot."""
    if total_ss <= 0:
        return (
            "zero_variance",
            "the metric has the same value for every unit in these arms, so there is nothing to explain",
        )
    if result.df_resid <= 0:
        return "too_few_units", (
            f"{result.n_units:.0f} units for {result.rank} coefficients leave no residual degrees of freedom"
        )
    if result.residual_ss <= 0:
        return "zero_variance", "the model fits every unit exactly (no residual variance), so standard errors are zero"
    if not np.all(np.isfinite(result.std_errors[~result.aliased])):
        return "leverage_one", (
            f"a cell of a single unit alone determines a coefficient, so {result.cov_type} is undefined; "
            "use HC0 or HC1, or merge small segments"
        )
    return "ok", None


def coefficient_rows(
    result: LinearFit,
    design: InteractionDesign,
    status: str,
    reason: str | None,
    alpha: float,
    model: str,
    marginal_dimension: str | None,
    aliased_reasons: Mapping[str, str],
) -> list[dict]:
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    rows = []
    std_errors = result.std_errors
    for j, term in enumerate(design.terms):
        dimension = term.dimension if term.dimension is not None else marginal_dimension
        segment = term.segment
        if term.role in ("baseline", "treatment") and model == "marginal":
            segment = design.references[marginal_dimension]
        row = {"model": model, "dimension": dimension, "segment": segment, "term": term.name, "role": term.role}
        if result.aliased[j]:
            row.update(
                status="not_estimable",
                reason=aliased_reasons.get(
                    term.name, "the term is a linear combination of earlier terms in this design"
                ),
            )
        else:
            row.update(inference_fields(result.params[j], std_errors[j], status, reason, z))
        rows.append(row)
    return rows


def inference_fields(estimate: float, std_error: float, status: str, reason: str | None, z: float) -> dict:
    if not np.isfinite(estimate):
        return {
            "estimate": np.nan,
            "status": "not_estimable",
            "reason": reason
            or (
                "the effect averages over units of a segment whose interaction cannot be estimated "
                "(units in one arm only, or aliased with another dimension)"
            ),
        }
    fields = {"estimate": float(estimate), "status": status, "reason": reason}
    if status in ("ok", "single_level") and np.isfinite(std_error):
        p = 2.0 * stats.norm.sf(abs(estimate) / std_error) if std_error > 0 else np.nan
        fields.update(
            std_error=float(std_error), ci_low=estimate - z * std_error, ci_high=estimate + z * std_error, p_value=p
        )
    return fields


def segment_effect_rows(
    result: LinearFit,
    design: InteractionDesign,
    cells: pd.DataFrame,
    dimension: str,
    status: str,
    reason: str | None,
    alpha: float,
    model: str,
    lonely: Mapping[str, str],
) -> list[dict]:
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    rows = []
    for level in design.levels[dimension]:
        weights = design.treatment_effect_weights(cells, cells["n"].to_numpy(), dimension, level)
        estimate, std_error = result.contrast(weights)
        row = {
            "model": model,
            "dimension": dimension,
            "segment": level,
            "term": f"effect:{dimension}={level}",
            "role": "segment_effect",
        }
        if level in lonely:
            row.update(
                status="not_estimable",
                reason=f"segment '{level}' of dimension '{dimension}' has units only in arm '{lonely[level]}'",
            )
        else:
            row.update(inference_fields(estimate, std_error, status, reason, z))
        rows.append(row)
    return rows


def add_shrinkage(rows: list[dict], alpha: float) -> None:
    """Empirical-Bayes estimates beside the raw segment effects of one marginal model (in place)."""
    usable = [r for r in rows if r["role"] == "segment_effect" and r["status"] == "ok" and r.get("std_error", 0) > 0]
    if len(usable) < MIN_SEGMENTS:
        return
    shrunk = shrink_segment_effects(
        np.array([r["estimate"] for r in usable]), np.array([r["std_error"] for r in usable]), alpha
    )
    for r, mean, low, high in zip(usable, shrunk.posterior_mean, shrunk.ci_low, shrunk.ci_high, strict=True):
        r.update(shrunk_estimate=float(mean), shrunk_ci_low=float(low), shrunk_ci_high=float(high))


def fit_cells(data: pd.DataFrame, x: np.ndarray, names: tuple[str, ...], settings: RegressionSettings) -> LinearFit:
    return fit_cell_ols(x, data["n"], data["sum_y"], data["sum_y2"], names, settings.cov_type)


def fit_interaction_model(
    data: pd.DataFrame,
    comparison: ComparisonKeys,
    dimensions: Sequence[str],
    references: Mapping[str, str],
    settings: RegressionSettings,
    model: str,
    fitter: Callable[[pd.DataFrame, np.ndarray, tuple[str, ...], RegressionSettings], LinearFit] = fit_cells,
    fit_source: str = "cells",
) -> tuple[list[dict], list[dict], LinearFit | None]:
    """Fit one marginal or adjusted model for one comparison: coefficient, segment-effect and joint-test rows.

    `data` holds one row per cell (or per unit, as a cell of one) with `arm`, the dimensions, `n`, `sum_y`,
    `sum_y2`; `fitter` turns it and the design into a LinearFit (exact from cells, or statsmodels on units).
    """
    # Everything but the fit itself depends on the data only through the cells, so it is computed from them
    # even when the fit needs the unit rows.
    collapsed = collapse_cells(data, ["arm", *dimensions])
    levels = {d: tuple(sorted(collapsed.loc[collapsed["n"] > 0, d].unique(), key=str)) for d in dimensions}
    design = interaction_design(levels, references)
    fit_rows = collapsed if fitter is fit_cells else data
    x = design.matrix((fit_rows["arm"] == comparison.arm).to_numpy(), fit_rows)
    result = fitter(fit_rows, x, design.names, settings)

    n_total = collapsed["n"].sum()
    grand_mean = collapsed["sum_y"].sum() / n_total
    total_ss = float(np.maximum(collapsed["sum_y2"].sum() - n_total * grand_mean**2, 0.0))
    # The relative threshold keeps a constant metric from passing as variable through rounding in sum_y2.
    if total_ss <= 1e-12 * max(float(collapsed["sum_y2"].sum()), 1.0):
        total_ss = 0.0
    status, reason = model_status(result, total_ss)

    lonely_by_dimension = {
        d: one_arm_segments(collapsed, d, comparison.arm, comparison.control_arm) for d in dimensions
    }
    aliased_reasons = {
        f"treatment:{d}={lv}": f"segment '{lv}' of dimension '{d}' has units only in arm '{arm}'"
        for d, lonely in lonely_by_dimension.items()
        for lv, arm in lonely.items()
    }
    if model == "marginal":
        dimension = dimensions[0]
        if len(levels[dimension]) < 2 and status == "ok":
            status, reason = (
                "single_level",
                f"dimension '{dimension}' has a single segment in this experiment, "
                "so there is no interaction to estimate",
            )
    marginal_dimension = dimensions[0] if model == "marginal" else None
    rows = coefficient_rows(result, design, status, reason, settings.alpha, model, marginal_dimension, aliased_reasons)
    for d in dimensions:
        effects = segment_effect_rows(
            result, design, collapsed, d, status, reason, settings.alpha, model, lonely_by_dimension[d]
        )
        if model == "marginal":
            add_shrinkage(effects, settings.alpha)
        rows += effects

    tests = []
    for d in dimensions:
        test_name = "wald_interactions" if model == "marginal" else "wald_interactions_adjusted"
        tests.append(wald_row(result, design, d, status, reason, test_name, lonely_by_dimension[d]))
    for r in rows + tests:
        r.update(
            comparison.keys(), model=model, fit_source=fit_source, cov_type=result.cov_type, n_units=int(result.n_units)
        )
    return rows, tests, result


def wald_row(result, design, dimension, status, reason, test_name, lonely) -> dict:
    columns = design.columns("interaction", dimension)
    # Kept in hte_interaction_regressions (role 'joint_test') because it needs the full covariance matrix,
    # which only exists there; hte_heterogeneity_tests selects these rows instead of refitting.
    row = {
        "dimension": dimension,
        "term": test_name,
        "role": "joint_test",
        "statistic": np.nan,
        "df": 0,
        "p_value": np.nan,
    }
    if len(design.levels[dimension]) < 2:
        row.update(status="single_level", reason=f"dimension '{dimension}' has a single segment in this experiment")
        return row
    if status != "ok":
        row.update(status=status, reason=reason)
        return row
    statistic, df, p = result.wald_test(columns)
    row.update(statistic=statistic, df=df, p_value=p, status="ok" if df > 0 else "not_estimable", reason=None)
    dropped = int(result.aliased[columns].sum())
    if df == 0:
        row["reason"] = f"no interaction of dimension '{dimension}' is estimable"
    elif dropped:
        row["reason"] = (
            f"{dropped} of {len(columns)} interactions of dimension '{dimension}' are not estimable "
            f"(segments with units in one arm only: {', '.join(sorted(lonely)) or 'none'}); the test covers the rest"
        )
    return row


def comparisons(experiments: pd.DataFrame, cells: pd.DataFrame) -> list[ComparisonKeys]:
    """Every treatment arm against the control arm, for every metric the experiment has cells for."""
    found = []
    metrics = cells.groupby("experiment_id", observed=True)["metric"].unique()
    for experiment_id, arms in experiments.groupby("experiment_id", sort=True):
        controls = arms.loc[arms["is_control"].astype(bool), "arm"].tolist()
        if len(controls) != 1 or experiment_id not in metrics.index:
            continue
        for metric in sorted(metrics[experiment_id]):
            for arm in sorted(arms.loc[~arms["is_control"].astype(bool), "arm"]):
                found.append(ComparisonKeys(str(experiment_id), str(metric), str(arm), str(controls[0])))
    return found


def interaction_regressions_from_cells(
    cells: pd.DataFrame,
    experiments: pd.DataFrame,
    dimensions: Sequence[str],
    settings: RegressionSettings = RegressionSettings(),
    skip_experiments: Sequence[str] = (),
) -> pd.DataFrame:
    """All marginal and adjusted interaction regressions that cells can answer, with their joint Wald tests.

    `skip_experiments` are fit elsewhere (from unit rows: cluster-robust errors).
    """
    kept = cells[~cells["experiment_id"].isin(list(skip_experiments))]
    return interaction_regressions(kept, experiments, dimensions, settings, fit_cells, "cells")


def interaction_regressions(
    data: pd.DataFrame,
    experiments: pd.DataFrame,
    dimensions: Sequence[str],
    settings: RegressionSettings,
    fitter: Callable[[pd.DataFrame, np.ndarray, tuple[str, ...], RegressionSettings], LinearFit],
    fit_source: str,
) -> pd.DataFrame:
    """Every comparison's marginal and adjusted models over cell-shaped rows (cells, or units as cells of one)."""
    rows = []
    by_experiment = {k: g for k, g in data.groupby("experiment_id", observed=True)}
    for comparison in comparisons(experiments, data):
        exp_rows = by_experiment[comparison.experiment_id]
        dims = experiment_dimensions(exp_rows, dimensions)
        references, notes = reference_segments(exp_rows, dims, settings.reference_segments)
        pair = exp_rows[
            (exp_rows["metric"] == comparison.metric) & exp_rows["arm"].isin([comparison.arm, comparison.control_arm])
        ]
        r, t = comparison_rows(pair, comparison, dims, references, settings, fitter, fit_source)
        for row in r:
            if row.get("dimension") in notes and row["reason"] is None:
                row["reason"] = notes[row["dimension"]]
        rows += r + t
    return as_frame(rows, REGRESSION_COLUMNS)


def comparison_rows(
    pair, comparison, dims, references, settings, fitter=fit_cells, fit_source="cells"
) -> tuple[list[dict], list[dict]]:
    """Marginal models per dimension, then the adjusted model when there are two dimensions or more."""
    rows, tests = [], []
    if (
        not ((pair["arm"] == comparison.arm) & (pair["n"] > 0)).any()
        or not ((pair["arm"] == comparison.control_arm) & (pair["n"] > 0)).any()
    ):
        reason = (
            f"arm '{comparison.arm}' or control '{comparison.control_arm}' has no units "
            f"for metric '{comparison.metric}'"
        )
        row = {**comparison.keys(), "model": "marginal", "term": "treatment", "role": "treatment",
               "status": "no_units", "reason": reason,
               "fit_source": fit_source, "cov_type": settings.cov_type, "n_units": int(pair["n"].sum())}  # fmt: skip
        return [row], []
    marginal_estimates = {}
    for d in dims:
        r, t, _ = fit_interaction_model(pair, comparison, [d], references, settings, "marginal", fitter, fit_source)
        marginal_estimates.update(
            {row["term"]: row.get("estimate") for row in r if row["role"] in ("interaction", "segment_effect")}
        )
        rows += r
        tests += t
    if sum(1 for d in dims if pair.loc[pair["n"] > 0, d].nunique() > 1) >= 2:
        r, t, _ = fit_interaction_model(
            pair, comparison, list(dims), references, settings, "adjusted", fitter, fit_source
        )
        for row in r:
            if row["role"] in ("interaction", "segment_effect"):
                row["marginal_estimate"] = marginal_estimates.get(row["term"])
        rows += r
        tests += t
    return rows, tests


def heterogeneity_tests(
    regressions: pd.DataFrame, method: str = "holm", family: str = "experiment_metric_arm"
) -> pd.DataFrame:
    """The joint tests of hte_interaction_regressions as hte_heterogeneity_tests rows, adjusted per family.

    A family is one kind of test across the dimensions of an experiment x metric x arm by default
    (`hte_p_adjust_family` widens or narrows it, as for the SQL tests). Rows without a p-value (not
    estimable) are outside the family: they cannot be rejected and must not make the correction for the
    others harsher or milder.
    """
    if family not in P_ADJUST_FAMILIES:
        raise ValueError(f"hte_p_adjust_family '{family}' is not known; use one of {', '.join(P_ADJUST_FAMILIES)}.")
    tests = regressions[regressions["role"] == "joint_test"].rename(columns={"term": "test"}).copy()
    tests["p_value_adj"] = np.nan
    for _, index in tests.groupby([*P_ADJUST_FAMILIES[family], "test"], sort=False, dropna=False).groups.items():
        p = tests.loc[index, "p_value"].astype(float)
        valid = p.notna()
        if valid.any():
            tests.loc[p.index[valid], "p_value_adj"] = multipletests(
                p[valid].to_numpy(), method=P_ADJUST_METHODS[method]
            )[1]
    return as_frame(tests[TEST_COLUMNS].to_dict("records"), TEST_COLUMNS)


def as_frame(rows: list[dict], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(columns)) if rows else pd.DataFrame(columns=list(columns))
    for c in ("estimate", "std_error", "ci_low", "ci_high", "p_value", "statistic", "p_value_adj", "marginal_estimate",
              "shrunk_estimate", "shrunk_ci_low", "shrunk_ci_high", "se_unadjusted", "se_reduction"):  # fmt: skip
        if c in frame.columns:
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    for c in ("n_units", "df"):
        if c in frame.columns:
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("Int64")
    # the rest is text: typed as such even when every value is null (a column of Nones would reach the warehouse
    # as type NULL, e.g. `reason` when every fit succeeded; tests/build/test_stable_schemas.py)
    for c in frame.columns[frame.dtypes == object]:  # noqa: E721 (a dtype, not a type)
        frame[c] = frame[c].astype("string")
    return frame
