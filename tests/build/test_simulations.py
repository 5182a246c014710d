"""Monte Carlo checks of the SQL marts against known truth, one dbt build per simulation design.

Each design puts R simulated experiments (10 segments, a fixed number of units per arm per segment, so the
segments are independent replications) into one set of inputs and builds dbt_hte once. Outcomes are normal
with a segment-specific additive effect, so every segment's true lift is known exactly, and 150 units per arm
keep the normal approximation of the Welch z-test honest (at 150 units per arm the t tail at the Holm
threshold α/10 exceeds the normal one by under 5%).

Bounds: an estimated rate from R independent replications has Monte Carlo sd sqrt(q(1−q)/R); a test allows the
nominal value plus 3 sd (one-sided for error rates, two-sided for coverage).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fixtures import build_fixture

pytestmark = pytest.mark.slow

N_EXPERIMENTS = 400
N_SEGMENTS = 10
UNITS_PER_ARM = 150
ALPHA = 0.05
SELECT = "+hte_segment_lifts +hte_segment_differences"
VARS = {
    "hte_segment_columns": ["segment_a"],
    "hte_feature_columns": ["segment_a"],
    "hte_metrics": {"revenue": {"kind": "continuous"}},
    "hte_min_segment_size": 50,
    "hte_alpha": ALPHA,
}
ASSIGNED_AT = pd.Timestamp("2026-01-10 12:00:00")


def simulate(seed: int, effects: np.ndarray, base: np.ndarray) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """R experiments × N_SEGMENTS segments × 2 arms × UNITS_PER_ARM units; `effects` and `base` are R × N_SEGMENTS.

    y = base + effect·T + 2·x + ε with x ~ N(5, 1) the pre-period value and ε ~ N(0, 1.5²): the truth of the
    absolute lift (and of CUPED, which estimates the same difference) is `effect`, of the relative lift
    effect / (base + 10).
    """
    rng = np.random.default_rng(seed)
    per_experiment = 2 * N_SEGMENTS * UNITS_PER_ARM
    r = effects.shape[0]
    experiment = np.repeat(np.arange(r), per_experiment)
    segment = np.tile(np.repeat(np.arange(N_SEGMENTS), 2 * UNITS_PER_ARM), r)
    treated = np.tile(np.repeat([0, 1], UNITS_PER_ARM), r * N_SEGMENTS)
    x = rng.normal(5.0, 1.0, experiment.size)
    y = base[experiment, segment] + effects[experiment, segment] * treated + 2.0 * x + rng.normal(0, 1.5, x.size)
    experiment_id = np.array([f"sim_{i:04d}" for i in range(r)], dtype=object)[experiment]
    unit_id = np.arange(experiment.size).astype(str).astype(object)
    arm = np.where(treated == 1, "treatment", "control").astype(object)
    seg = np.array([f"s{j}" for j in range(N_SEGMENTS)], dtype=object)[segment]
    frames = {
        "assignments": pd.DataFrame(
            {"experiment_id": experiment_id, "unit_id": unit_id, "arm": arm, "assigned_at": ASSIGNED_AT}
        ),
        "unit_features": pd.DataFrame(
            {
                "experiment_id": experiment_id,
                "unit_id": unit_id,
                "features_at": ASSIGNED_AT - pd.Timedelta(days=1),
                "segment_a": seg,
                "segment_b": seg,
                "score": 0.0,
            }
        ),
        "outcomes": pd.DataFrame(
            {"experiment_id": experiment_id, "unit_id": unit_id, "metric": "revenue", "value": y, "pre_value": x}
        ),
        "experiments": pd.DataFrame(
            {
                "experiment_id": np.repeat(experiment_id[::per_experiment], 2),
                "arm": np.tile(["control", "treatment"], r),
                "is_control": np.tile([True, False], r),
                "expected_share": 0.5,
            }
        ),
    }
    truth = pd.DataFrame(
        {
            "experiment_id": np.repeat([f"sim_{i:04d}" for i in range(r)], N_SEGMENTS),
            "segment": np.tile([f"s{j}" for j in range(N_SEGMENTS)], r),
            "true_effect": effects.ravel(),
            "true_control_mean": base.ravel() + 10.0,
        }
    )
    return frames, truth


def mc_sd(q: float, replications: int) -> float:
    return float(np.sqrt(q * (1 - q) / replications))


@pytest.fixture(scope="module")
def null_build(tmp_path_factory):
    r = N_EXPERIMENTS
    frames, truth = simulate(1, np.zeros((r, N_SEGMENTS)), np.zeros((r, N_SEGMENTS)))
    result = build_fixture(
        tmp_path_factory.mktemp("sim_null"), frames, select=SELECT, vars={**VARS, "hte_p_adjust": "holm"}
    )
    assert result.ok, result.output[-5000:]
    lifts = result.table("hte_segment_lifts")
    return lifts[lifts["dimension"] == "segment_a"].merge(truth, on=["experiment_id", "segment"], validate="one_to_one")


@pytest.fixture(scope="module")
def planted_build(tmp_path_factory):
    # Half of the segments carry no effect; the others an effect between 0.2 and 0.8 (about 1 to 4 standard
    # errors), with either sign; control means differ by segment.
    rng = np.random.default_rng(2)
    r = N_EXPERIMENTS
    effects = np.where(
        rng.random((r, N_SEGMENTS)) < 0.5,
        0.0,
        rng.choice([-1, 1], (r, N_SEGMENTS)) * rng.uniform(0.2, 0.8, (r, N_SEGMENTS)),
    )
    frames, truth = simulate(3, effects, rng.uniform(0.0, 5.0, (r, N_SEGMENTS)))
    result = build_fixture(
        tmp_path_factory.mktemp("sim_planted"), frames, select=SELECT, vars={**VARS, "hte_p_adjust": "bh"}
    )
    assert result.ok, result.output[-5000:]
    lifts = result.table("hte_segment_lifts")
    lifts = lifts[lifts["dimension"] == "segment_a"].merge(
        truth, on=["experiment_id", "segment"], validate="one_to_one"
    )
    differences = result.table("hte_segment_differences")
    differences = differences[differences["dimension"] == "segment_a"].merge(
        truth, on=["experiment_id", "segment"], validate="one_to_one"
    )
    # Every segment has the same number of units per arm, so the rest's true lift is the plain mean of the
    # other segments' effects.
    total = truth.groupby("experiment_id")["true_effect"].transform("sum")
    truth_difference = truth["true_effect"] - (total - truth["true_effect"]) / (N_SEGMENTS - 1)
    differences = differences.merge(
        truth.assign(true_difference=truth_difference)[["experiment_id", "segment", "true_difference"]],
        on=["experiment_id", "segment"],
    )
    return lifts, differences


def test_holm_controls_the_familywise_error_rate_under_the_null(null_build):
    # Family = the 10 segments of one experiment × metric × arm. With independent segments Holm's FWER is at
    # most 1 − (1 − α/10)^10 = 0.0489; the test allows α + 3 Monte Carlo sd (R = 400: 0.05 + 0.033).
    assert null_build["p_value_adj"].notna().all() and (null_build["family_size"] == N_SEGMENTS).all()
    any_rejection = null_build.groupby("experiment_id")["p_value_adj"].min() < ALPHA
    fwer = any_rejection.mean()
    assert fwer <= ALPHA + 3 * mc_sd(ALPHA, N_EXPERIMENTS), (
        f"Holm FWER {fwer:.3f} over {N_EXPERIMENTS} null experiments"
    )
    # A vacuous adjustment (p_adj = 1 everywhere) would pass the bound above: the raw tests must reject at α.
    raw = (null_build["p_value"] < ALPHA).mean()
    assert abs(raw - ALPHA) <= 3 * mc_sd(ALPHA, len(null_build)), f"raw rejection rate {raw:.4f} under the null"
    assert ((null_build["verdict"] == "inconclusive") | (null_build["p_value_adj"] < ALPHA)).all()


def test_intervals_cover_zero_under_the_null(null_build):
    # 4,000 independent intervals: Monte Carlo sd 0.0034, so 93–97% is a band of ±5.8 sd around 95%.
    covered = (null_build["lift_abs_ci_low"] <= 0) & (0 <= null_build["lift_abs_ci_high"])
    assert 0.93 <= covered.mean() <= 0.97, f"null coverage {covered.mean():.4f}"


def test_bh_controls_the_false_discovery_rate(planted_build):
    lifts, _ = planted_build
    rejected = lifts["p_value_adj"] < ALPHA
    null = lifts["true_effect"] == 0
    per_experiment = (
        pd.DataFrame({"experiment_id": lifts["experiment_id"], "false": rejected & null, "rejected": rejected})
        .groupby("experiment_id")
        .sum()
    )
    fdp = per_experiment["false"] / per_experiment["rejected"].clip(lower=1)
    # BH controls FDR at (m0/m)·α ≤ α for independent tests; bound: α + 3 · sd(FDP)/sqrt(R).
    bound = ALPHA + 3 * fdp.std(ddof=1) / np.sqrt(len(fdp))
    assert fdp.mean() <= bound, f"BH FDR {fdp.mean():.4f} > {bound:.4f}"
    # An adjustment that never rejects controls FDR too: BH must find at least what Bonferroni finds.
    bonferroni = lifts["p_value"] * N_SEGMENTS < ALPHA
    assert rejected[~null].mean() >= bonferroni[~null].mean() > 0


@pytest.mark.parametrize(
    "estimate, truth", [("lift_abs", "true_effect"), ("lift_cuped", "true_effect"), ("lift_rel", "true_relative")]
)
def test_intervals_cover_planted_segment_effects(planted_build, estimate, truth):
    # 4,000 independent segment intervals with known truth (half of them non-zero); 93–97% is ±5.8 Monte Carlo
    # sd around 95%. The relative lift's truth is effect / control mean.
    lifts, _ = planted_build
    lifts = lifts.assign(true_relative=lifts["true_effect"] / lifts["true_control_mean"])
    covered = (lifts[f"{estimate}_ci_low"] <= lifts[truth]) & (lifts[truth] <= lifts[f"{estimate}_ci_high"])
    assert len(covered) == N_EXPERIMENTS * N_SEGMENTS
    assert 0.93 <= covered.mean() <= 0.97, f"{estimate} coverage {covered.mean():.4f}"
    nonzero = lifts[truth] != 0
    assert 0.93 <= covered[nonzero].mean() <= 0.97, (
        f"{estimate} coverage of non-zero effects {covered[nonzero].mean():.4f}"
    )


def test_cuped_shrinks_the_standard_error_as_theory_says(planted_build):
    # y = … + 2x + ε with var(x) = 1, var(ε) = 2.25: CUPED removes 4/(4 + 2.25) = 64% of the variance.
    lifts, _ = planted_build
    assert lifts["cuped_variance_reduction"].mean() == pytest.approx(4 / 6.25, abs=0.02)
    assert lifts["cuped_theta"].mean() == pytest.approx(2.0, abs=0.02)


def test_difference_intervals_cover_the_planted_interaction(planted_build):
    _, differences = planted_build
    covered = (differences["difference_ci_low"] <= differences["true_difference"]) & (
        differences["true_difference"] <= differences["difference_ci_high"]
    )
    # The ten differences of one experiment share units (each segment is in the others' rests), so they are
    # not independent; across 400 experiments the Monte Carlo sd is at most sqrt(.95·.05/400) = 0.011 per
    # experiment-mean, and 93–97% stays a ±1.8 sd band at the most pessimistic correlation.
    assert 0.93 <= covered.mean() <= 0.97, f"difference coverage {covered.mean():.4f}"
