"""Property tests: on many small random experiments (and hand-made edge cases) every SQL mart equals the
independent reference of reference.py.

dbt takes seconds to start, so hypothesis does not drive one build per example: one example is a list of 40
random experiments, all written into one set of input relations (distinct experiment_id each) next to the edge
cases, and built once per configuration of the multiple-testing vars. Shrinking is off for the same reason: a
failure prints the whole drawn list, which regenerates the data exactly (each experiment carries its seed).
Tolerances: counts and labels exact, floats 1e-9 relative (reference.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import reference as ref
from fixtures import build_fixture

SEGMENT_COLUMNS = ["segment_a", "segment_b"]
METRICS = ["conversion", "revenue"]
ASSIGNED_AT = pd.Timestamp("2026-01-10 12:00:00")
FEATURES_AT = pd.Timestamp("2026-01-09 00:00:00")
SELECT = "+hte_segment_stats +hte_segment_lifts +hte_segment_differences +hte_dimension_tests +hte_checks"
BASE_VARS = {"hte_min_segment_size": 10, "hte_max_segments_per_dimension": 5}
# One build per configuration; together they exercise every adjustment method and family definition.
CONFIGURATIONS = {
    "holm_per_arm": {"hte_p_adjust": "holm", "hte_p_adjust_family": "experiment_metric_arm", "hte_alpha": 0.05},
    "bh_per_dimension": {
        "hte_p_adjust": "bh",
        "hte_p_adjust_family": "experiment_metric_arm_dimension",
        "hte_alpha": 0.10,
    },
    "bonferroni_per_experiment": {
        "hte_p_adjust": "bonferroni",
        "hte_p_adjust_family": "experiment",
        "hte_alpha": 0.05,
        "hte_min_segment_size": 25,
    },
}
SHARES = [(0.5, 0.5), (0.7, 0.3), (0.2, 0.8), (1 / 3, 1 / 3, 1 / 3), (0.5, 0.3, 0.2)]


@st.composite
def experiment_specs(draw):
    return {
        "seed": draw(st.integers(0, 2**32 - 1)),
        "n_units": draw(st.integers(20, 300)),
        "shares": draw(st.sampled_from(SHARES)),
        "levels_a": draw(st.integers(1, 7)),
        # Level probabilities fall off as exp(-skew · i): with a large skew the last levels are tiny.
        "skew_a": draw(st.floats(0.0, 1.5)),
        "levels_b": draw(st.integers(1, 3)),
        "missing_b": draw(st.sampled_from([0.0, 0.0, 0.2, 1.0])),
        "metrics": draw(st.sampled_from([("conversion",), ("revenue",), ("conversion", "revenue")])),
        "pre_period": draw(st.booleans()),
        "drop_rows": draw(st.sampled_from([0.0, 0.0, 0.3])),
        "effect": draw(st.floats(-0.3, 0.3)),
    }


def random_experiment(experiment_id: str, spec: dict) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(spec["seed"])
    n, shares = spec["n_units"], np.array(spec["shares"])
    arms = np.array(["control", "t1", "t2"][: len(shares)], dtype=object)
    arm = arms[rng.choice(len(shares), size=n, p=shares / shares.sum())]
    weights = np.exp(-spec["skew_a"] * np.arange(spec["levels_a"]))
    a_index = rng.choice(spec["levels_a"], size=n, p=weights / weights.sum())
    segment_b = np.array([f"b{j}" for j in rng.integers(0, spec["levels_b"], n)], dtype=object)
    segment_b[rng.random(n) < spec["missing_b"]] = None
    treated = (arm != "control").astype(float)
    latent = rng.gamma(2.0, 0.5, n)
    values = {
        "conversion": (
            rng.random(n)
            < np.clip(0.15 + 0.1 * latent + spec["effect"] * treated * (a_index == 0) + 0.03 * a_index, 0.0, 1.0)
        ).astype(float),
        "revenue": np.round(
            np.where(rng.random(n) < 0.6, 0.0, 20 * latent * rng.lognormal(0, 0.5, n))
            + 5 * spec["effect"] * treated * a_index,
            2,
        ),
    }
    pre = {
        "conversion": rng.poisson(3 * latent).astype(float),
        "revenue": np.round(30 * latent * rng.lognormal(0, 0.3, n), 2),
    }
    return _frames(
        experiment_id,
        arm,
        arms,
        shares,
        [f"a{i}" for i in a_index],
        segment_b,
        values,
        pre if spec["pre_period"] else None,
        spec["metrics"],
        rng,
        spec["drop_rows"],
    )


def _frames(experiment_id, arm, arms, shares, segment_a, segment_b, values, pre, metrics, rng, drop_rows=0.0):
    n = len(arm)
    unit_id = np.array([f"{experiment_id}_u{i:04d}" for i in range(n)], dtype=object)
    assignments = pd.DataFrame(
        {"experiment_id": experiment_id, "unit_id": unit_id, "arm": arm, "assigned_at": ASSIGNED_AT}
    )
    features = pd.DataFrame(
        {
            "experiment_id": experiment_id,
            "unit_id": unit_id,
            "features_at": FEATURES_AT,
            "segment_a": pd.Series(segment_a, dtype=object),
            "segment_b": pd.Series(segment_b, dtype=object),
            "score": rng.normal(size=n),
        }
    )
    outcomes = []
    for metric in metrics:
        rows = pd.DataFrame(
            {
                "experiment_id": experiment_id,
                "unit_id": unit_id,
                "metric": metric,
                "value": values[metric],
                "pre_value": pre[metric] if pre else np.nan,
            }
        )
        # A unit with no outcome row counts as 0 (and its pre-period value as 0): drop some rows.
        outcomes.append(rows[rng.random(n) >= drop_rows])
    experiments = pd.DataFrame(
        {"experiment_id": experiment_id, "arm": arms, "is_control": arms == "control", "expected_share": shares}
    )
    return {
        "assignments": assignments,
        "unit_features": features,
        "outcomes": pd.concat(outcomes),
        "experiments": experiments,
    }


def edge_cases() -> dict[str, dict[str, pd.DataFrame]]:
    """Experiments built to hit one trap each."""
    rng = np.random.default_rng(20261124)
    cases = {}
    two = np.array(["control", "t1"], dtype=object)

    # Constant arms: revenue 0.1 in every unit of segment a0 of both arms (0.1 is not a binary fraction, so a
    # variance from Σy² − (Σy)²/n need not come out exactly 0); conversion 0 everywhere in a0 and in the control
    # of a1 (control mean 0: no relative lift). The pre-period is constant in a0 (no CUPED slope).
    arm = np.repeat(two, 40)
    seg = np.tile(np.repeat(["a0", "a1"], 20), 2)
    revenue = np.where(seg == "a0", 0.1, np.where(arm == "t1", 2.5, np.round(rng.gamma(2, 3, 80), 2)))
    conversion = np.where((seg == "a1") & (arm == "t1"), (rng.random(80) < 0.4).astype(float), 0.0)
    pre = {
        "revenue": np.where(seg == "a0", 7.3, np.round(rng.gamma(2, 3, 80), 2)),
        "conversion": np.where(seg == "a0", 2.0, rng.poisson(2, 80).astype(float)),
    }
    cases["edge_constant"] = _frames(
        "edge_constant",
        arm,
        two,
        (0.5, 0.5),
        seg,
        np.full(80, "b0", dtype=object),
        {"revenue": revenue, "conversion": conversion},
        pre,
        ("conversion", "revenue"),
        rng,
    )

    # Ties: segments a0 and a1 hold identical outcome counts per arm, and segment_b relabels segment_a, so many
    # p-values are exactly equal within and across dimensions (the order of tied p-values must not matter).
    arm = np.repeat(two, 90)
    seg = np.tile(np.repeat(["a0", "a1", "a2"], 30), 2)
    conversion = np.concatenate([(np.arange(30) < k).astype(float) for k in (9, 9, 12, 15, 15, 12)])
    cases["edge_ties"] = _frames(
        "edge_ties",
        arm,
        two,
        (0.5, 0.5),
        seg,
        np.array([s.replace("a", "b") for s in seg], dtype=object),
        {"conversion": conversion},
        None,
        ("conversion",),
        rng,
    )

    # A segment present in one arm only, a dimension with a single level, tiny segments, three unequal arms.
    three = np.array(["control", "t1", "t2"], dtype=object)
    arm = three[rng.choice(3, size=240, p=[0.5, 0.3, 0.2])]
    seg = np.where(rng.random(240) < 0.5, "a0", "a1").astype(object)
    seg[:4] = "only_treated"
    arm[:4] = "t1"
    seg[4:7] = "only_control"
    arm[4:7] = "control"
    seg[7:9] = "tiny"
    values = {"conversion": (rng.random(240) < 0.3).astype(float), "revenue": np.round(rng.gamma(1.5, 10, 240), 2)}
    cases["edge_structure"] = _frames(
        "edge_structure",
        arm,
        three,
        (0.5, 0.3, 0.2),
        seg,
        np.full(240, "single", dtype=object),
        values,
        None,
        ("conversion", "revenue"),
        rng,
    )

    # Folding: eight levels of segment_a with hte_max_segments_per_dimension = 5, two levels tied at the cut
    # (the tie is broken by the label); segment_b is never observed.
    sizes = {"l1": 40, "l2": 35, "l3": 30, "l4": 25, "l5x": 20, "l5a": 20, "l7": 8, "l8": 4}
    seg = np.concatenate([np.full(k, name, dtype=object) for name, k in sizes.items()])
    n = len(seg)
    arm = two[rng.integers(0, 2, n)]
    cases["edge_folding"] = _frames(
        "edge_folding",
        arm,
        two,
        (0.5, 0.5),
        seg,
        np.full(n, None, dtype=object),
        {"revenue": np.round(rng.normal(50, 10, n), 2)},
        {"revenue": np.round(rng.normal(50, 10, n), 2)},
        ("revenue",),
        rng,
    )

    # A declared arm that received no unit (t2): the SRM check must alert, and no lift can be estimated for it.
    arm = two[rng.integers(0, 2, 150)]
    cases["edge_empty_arm"] = _frames(
        "edge_empty_arm",
        arm,
        three,
        (0.4, 0.4, 0.2),
        np.where(rng.random(150) < 0.5, "a0", "a1").astype(object),
        np.full(150, "b0", dtype=object),
        {"conversion": (rng.random(150) < 0.4).astype(float)},
        None,
        ("conversion",),
        rng,
    )

    # Null features: a (missing) level in both dimensions.
    arm = two[rng.integers(0, 2, 200)]
    seg_a = np.where(rng.random(200) < 0.2, None, np.where(rng.random(200) < 0.5, "a0", "a1")).astype(object)
    seg_b = np.where(rng.random(200) < 0.5, None, "b0").astype(object)
    cases["edge_missing"] = _frames(
        "edge_missing",
        arm,
        two,
        (0.5, 0.5),
        seg_a,
        seg_b,
        {"conversion": (rng.random(200) < 0.5).astype(float)},
        None,
        ("conversion",),
        rng,
    )
    return cases


def assert_edge_cases_exercised(expected: dict[str, pd.DataFrame]) -> None:
    """The edge cases reach the situations they were built for (otherwise the comparison proves nothing there)."""
    lifts = expected["hte_segment_lifts"]
    segments = lifts[lifts["dimension"] != "overall"]
    assert (lifts["verdict"] == "not_estimable").any(), "no zero-variance comparison"
    assert (lifts["lift_rel"].isna() & (lifts["mean_control"] == 0)).any(), "no control mean of 0"
    assert (segments["n_treatment"] == 0).any() and (segments["n_control"] == 0).any(), "no one-arm segment"
    assert {"(other)", "(missing)"} <= set(segments["segment"]), "no folded or missing level"
    ties = segments[segments["experiment_id"] == "edge_ties"]["p_value"]
    assert ties.duplicated().sum() >= 4, "edge_ties has no tied p-values"
    differences = expected["hte_segment_differences"]
    assert (differences["n_rest_treatment"] == 0).any(), "no single-level dimension"
    checks = expected["hte_checks"]
    assert {"dimension_folded", "dimension_not_observed", "minimum_segment_size"} <= set(checks["check_name"])
    srm = checks[(checks["experiment_id"] == "edge_empty_arm") & (checks["check_name"] == "sample_ratio_mismatch")]
    assert (srm["status"] == "alert").all()


def combine(parts: dict[str, dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    return {
        name: pd.concat([p[name] for p in parts.values()], ignore_index=True)
        for name in ("assignments", "unit_features", "outcomes", "experiments")
    }


def reference_config(configuration: dict) -> dict:
    return {
        "hte_segment_columns": SEGMENT_COLUMNS,
        "hte_metrics": {m: {} for m in METRICS},
        "hte_check_alert_p": 0.001,
        **BASE_VARS,
        **configuration,
    }


def draw_experiments(count: int) -> list[dict]:
    """`count` experiment specs drawn by hypothesis (its first draws are the simplest, then they spread out)."""
    drawn = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(experiment_specs())
    def collect(spec):
        drawn.append(spec)

    collect()
    return drawn[:count]


def test_marts_equal_reference_on_random_and_edge_experiments(tmp_path_factory):
    specs = {f"random_{i:02d}": spec for i, spec in enumerate(draw_experiments(40))}
    parts = edge_cases()
    parts.update({experiment_id: random_experiment(experiment_id, spec) for experiment_id, spec in specs.items()})
    frames = combine(parts)
    workdir = tmp_path_factory.mktemp("properties")

    def run(item):
        name, configuration = item
        return name, build_fixture(workdir / name, frames, select=SELECT, vars={**BASE_VARS, **configuration})

    with ThreadPoolExecutor(max_workers=len(CONFIGURATIONS)) as pool:
        builds = dict(pool.map(run, CONFIGURATIONS.items()))
    problems = []
    for name, configuration in CONFIGURATIONS.items():
        result = builds[name]
        assert result.ok, f"{name}: dbt build failed on the property inputs:\n{result.output[-5000:]}"
        expected = ref.reference_tables(frames, reference_config(configuration))
        assert_edge_cases_exercised(expected)
        problems += [f"[{name}] {p}" for p in ref.compare_marts(result, expected)]
    # Each random experiment is regenerated exactly by random_experiment(experiment_id, spec).
    involved = {e: spec for e, spec in specs.items() if any(e in p for p in problems)}
    assert not problems, "\n".join(problems) + f"\nspecs of the random experiments involved: {involved}"
