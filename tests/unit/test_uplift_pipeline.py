"""The per-comparison orchestration behind the uplift dbt models, without dbt."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fixtures import ab_experiment
from hte_engine.io import MemoryBudgetExceeded, physical_memory_bytes
from hte_engine.uplift.crossfit import cross_fit
from hte_engine.uplift.evaluation import evaluate_learners
from hte_engine.uplift.features import prepare_features
from hte_engine.uplift.tables import (
    UpliftSettings,
    cate_scores,
    comparison_bytes_per_unit,
    discovered_segments,
    evaluation_tables,
    plan_comparisons,
    result_from_scores,
)

FAST = {
    "name": "hist_gradient_boosting",
    "max_iter": 30,
    "learning_rate": 0.1,
    "early_stopping": False,
    "min_samples_leaf": 40,
}


def settings(**extra):
    meta = {
        "feature_columns": ["tenure", "device"],
        "metrics": {"buy": {"kind": "binary"}},
        "uplift_learners": ["constant", "t", "s"],
        "uplift_base_model": FAST,
        "uplift_bootstrap_replicates": 20,
        "uplift_curve_points": 10,
        "uplift_min_leaf_size": 100,
        **extra,
    }
    return UpliftSettings.from_meta(meta)


def inputs(n=1500, seed=0, experiment_id="e1"):
    """Two-arm experiment: buying lifts by 20 points on mobile, by nothing on desktop."""
    rng = np.random.default_rng(seed)
    ids = [f"{experiment_id}_{i:05d}" for i in range(n)]
    arm = rng.choice(["control", "treat"], n)
    device = rng.choice(["mobile", "desktop"], n)
    tenure = rng.exponential(100, n)
    p = 0.2 + 0.2 * ((arm == "treat") & (device == "mobile"))
    units = pd.DataFrame(
        {
            "experiment_id": experiment_id,
            "unit_id": ids,
            "arm": arm,
            "metric": "buy",
            "y": (rng.random(n) < p).astype(float),
            "x": np.nan,
            "cluster_id": None,
        }
    )
    features = pd.DataFrame(
        {
            "experiment_id": experiment_id,
            "unit_id": ids,
            "tenure": tenure,
            "device": device,
            "other_experiments_feature": np.nan,
        }
    )
    assignments = pd.DataFrame({"experiment_id": experiment_id, "unit_id": ids, "arm": arm, "propensity": np.nan})
    experiments = ab_experiment(experiment_id, treatment="treat")
    return units, features, assignments, experiments


def test_meta_rendered_as_text_is_coerced_to_the_right_types():
    s = UpliftSettings.from_meta(
        {
            "feature_columns": "['a', 'b']",
            "metrics": "{'m': {'kind': 'binary'}}",
            "uplift_folds": "3",
            "uplift_learners": "['constant', 'dr']",
            "uplift_winsorize_quantile": "None",
            "alpha": "0.1",
            "uplift_base_model": "{'name': 'hist_gradient_boosting', 'max_iter': 20}",
            "uplift_observational": "[]",
        }
    )
    assert s.feature_columns == ("a", "b") and s.metrics == {"m": "binary"}
    assert s.crossfit.folds == 3 and s.crossfit.learners == ("constant", "dr")
    assert s.crossfit.winsorize_quantile is None and s.evaluation.alpha == 0.1
    assert s.crossfit.base_model["max_iter"] == 20 and s.observational == ()
    with pytest.raises(ValueError, match="hte_uplift_learners"):
        UpliftSettings.from_meta({"uplift_learners": ["t", "causal_forest"]})
    with pytest.raises(ValueError, match=r"hte_uplift_discovery_max_units must be at least twice .*\(1000\); got 0"):
        UpliftSettings.from_meta({"uplift_discovery_max_units": "0"})


def test_features_without_experiment_id_apply_to_every_experiment_and_empty_columns_are_dropped():
    units, features, assignments, experiments = inputs()
    shared = features.assign(experiment_id=None)  # one snapshot per unit, for every experiment
    s = UpliftSettings.from_meta(
        {"feature_columns": ["tenure", "device", "other_experiments_feature"], "metrics": {"buy": {"kind": "binary"}}}
    )
    [plan] = plan_comparisons(units, shared, assignments, experiments, s)
    assert plan.status == "ok" and plan.features_used == ["tenure", "device"]
    got = plan.units.set_index("unit_id")["tenure"]
    assert got.to_numpy() == pytest.approx(features.set_index("unit_id")["tenure"].loc[got.index].to_numpy())


def test_features_with_and_without_experiment_id_are_refused_as_staging_refuses_them():
    units, features, assignments, experiments = inputs()
    both = pd.concat([features.iloc[:1000], features.iloc[1000:].assign(experiment_id=None)], ignore_index=True)
    with pytest.raises(ValueError, match="rows with and rows without an experiment_id"):
        plan_comparisons(units, both, assignments, experiments, settings())


def test_missing_feature_column_fails_with_the_var_name():
    units, features, assignments, experiments = inputs()
    s = UpliftSettings.from_meta({"feature_columns": ["tenure", "nope"], "metrics": {"buy": {"kind": "binary"}}})
    with pytest.raises(ValueError, match="hte_feature_columns"):
        plan_comparisons(units, features, assignments, experiments, s)


def test_scores_reproduce_under_reordering_and_feed_the_same_evaluation_as_a_direct_fit():
    units, features, assignments, experiments = inputs()
    s = settings()
    scores = cate_scores(units, features, assignments, experiments, s)
    shuffled = cate_scores(
        units.sample(frac=1, random_state=1), features.sample(frac=1, random_state=2), assignments, experiments, s
    )
    key = ["learner", "unit_id"]
    pd.testing.assert_frame_equal(
        scores.sort_values(key).reset_index(drop=True), shuffled.sort_values(key).reset_index(drop=True)
    )
    assert set(scores["learner"]) == {"constant", "t", "s"} and len(scores) == 3 * len(units)

    [plan] = plan_comparisons(units, features, assignments, experiments, s)
    direct = cross_fit(
        plan.units["unit_id"],
        prepare_features(plan.units, ["tenure", "device"]),
        plan.units["y"],
        plan.units["treated"],
        np.full(len(units), 0.5),
        True,
        s.crossfit,
    )
    rebuilt = result_from_scores(scores, plan.units)
    for column in ["cate_t", "cate_s", "mu0", "mu1", "dr_score", "y", "fold"]:
        assert rebuilt.units[column].to_numpy() == pytest.approx(direct.units[column].to_numpy(), abs=1e-12)
    expected = evaluate_learners(direct, s.evaluation, binary=True, parts=("learners",)).learners
    tables = evaluation_tables(scores, units, features, assignments, experiments, s, parts=("learners",))
    got = tables["learners"].set_index("learner").loc[expected["learner"]]
    for column in ["qini_coefficient", "qini_coefficient_ci_low", "auuc", "blp_heterogeneity_p_value", "dr_loss"]:
        assert got[column].to_numpy() == pytest.approx(expected[column].to_numpy(), abs=1e-12, nan_ok=True)
    assert got["is_chosen"].sum() == 1


def test_scores_missing_for_some_units_of_one_learner_are_nan_not_shifted():
    """result_from_scores lines each learner's scores up with the units by unit_id. When a learner's rows do not
    cover the same units (a table written only in part), its missing units get NaN and every other unit keeps its
    own score: the lookup by id, not the positional fast path."""
    units, features, assignments, experiments = inputs()
    s = settings()
    scores = cate_scores(units, features, assignments, experiments, s)
    [plan] = plan_comparisons(units, features, assignments, experiments, s)
    whole = result_from_scores(scores, plan.units).units.set_index("unit_id")
    dropped = sorted(scores["unit_id"].unique())[:3]
    partial = scores[~((scores["learner"] == "s") & scores["unit_id"].isin(dropped))]
    rebuilt = result_from_scores(partial, plan.units).units.set_index("unit_id")
    assert rebuilt.loc[dropped, "cate_s"].isna().all()
    kept = whole.index.difference(dropped)
    assert rebuilt.loc[kept, "cate_s"].to_numpy() == pytest.approx(whole.loc[kept, "cate_s"].to_numpy(), abs=0)
    assert rebuilt["cate_t"].to_numpy() == pytest.approx(whole["cate_t"].to_numpy(), abs=0)


def test_each_part_is_the_same_whether_computed_alone_or_together():
    units, features, assignments, experiments = inputs(seed=3)
    s = settings()
    scores = cate_scores(units, features, assignments, experiments, s)
    together = evaluation_tables(scores, units, features, assignments, experiments, s)
    for part in ("learners", "curves", "deciles"):
        alone = evaluation_tables(scores, units, features, assignments, experiments, s, parts=(part,))[part]
        pd.testing.assert_frame_equal(alone, together[part][alone.columns])


def test_discovered_segments_find_the_device_split():
    units, features, assignments, experiments = inputs(n=4000, seed=4)
    s = settings()
    scores = cate_scores(units, features, assignments, experiments, s)
    segments = discovered_segments(scores, units, features, assignments, experiments, s)
    best = segments.sort_values("effect", ascending=False).iloc[0]
    assert "device = mobile" in best["rule"]
    # Mobile's true lift is 0.2; an honest leaf estimate from ~1000 units lands within 3 SE of it.
    assert abs(best["effect"] - 0.2) < 3 * best["effect_se"]


def test_a_comparison_too_large_for_the_memory_budget_stops_with_a_sentence_before_it_is_read():
    units, features, assignments, experiments = inputs()
    tiny = settings(python_memory_budget_gb=0.0001)  # about 100 KiB: less than 1,500 units need
    with pytest.raises(MemoryBudgetExceeded) as failure:
        cate_scores(units, features, assignments, experiments, tiny)
    message = str(failure.value)
    for words in (
        "hte_cate_scores",
        "experiment 'e1', metric 'buy', arm 'treat'",
        "1,500 rows",
        "hte_python_memory_budget_gb",
        "--threads 1",
    ):
        assert words in message
    assert settings().memory_budget == physical_memory_bytes() // 4
    assert settings(python_memory_budget_gb="None").memory_budget == physical_memory_bytes() // 4


def test_the_10m_builds_largest_comparison_fits_each_models_budget_and_a_larger_one_is_refused():
    """bench/bench_build.py --units 10000000 (the bench's 7 features, 5 learners, a 6 GiB budget on 24 GiB): its
    largest comparison has 6 M units. The evaluation now holds a score column per learner and one learner's
    sorted curves at a time (about 700 B a unit, measured 4 GiB beside DuckDB's cache), and the honest tree reads
    at most hte_uplift_discovery_max_units units, so every model takes it; a 10 M-unit comparison is refused by
    the evaluation with the memory-budget sentence, not by the kernel, and the tree still takes it."""
    bench = settings(
        feature_columns=[f"f{i}" for i in range(7)],
        uplift_learners=["constant", "t", "s", "x", "dr"],
        python_memory_budget_gb=6,
    )
    budget = bench.memory_budget
    for model in ("hte_cate_scores", "int_hte_uplift_evaluation"):
        assert 6_000_000 * comparison_bytes_per_unit(bench, model) < budget
    assert 10_000_000 * comparison_bytes_per_unit(bench, "int_hte_uplift_evaluation") > budget
    read = bench.discovery_max_units
    assert read == 1_000_000 and read * comparison_bytes_per_unit(bench, "hte_discovered_segments") < budget / 4


def test_the_evaluation_tables_columns_are_the_documented_ones_whatever_the_data():
    """hte_learner_evaluation, hte_uplift_curves and hte_uplift_deciles select their documented columns from the
    one evaluation pass; the engine's schemas must hold exactly those, and a build where nothing could be scored
    (every outcome equal) still has every column."""
    import yaml

    from hte_engine.uplift.tables import evaluation_schemas

    documented = {
        m["name"]: [c["name"] for c in m.get("columns", [])]
        for m in yaml.safe_load((Path(__file__).resolve().parents[2] / "python_models" / "uplift.yml").read_text())[
            "models"
        ]
    }
    schemas = evaluation_schemas()
    for model, part in [
        ("hte_learner_evaluation", "learners"),
        ("hte_uplift_curves", "curves"),
        ("hte_uplift_deciles", "deciles"),
    ]:
        assert sorted(documented[model]) == sorted(schemas[part]), model
    units, features, assignments, experiments = inputs()
    constant = units.assign(y=1.0)
    s = settings()
    tables = evaluation_tables(
        cate_scores(constant, features, assignments, experiments, s), constant, features, assignments, experiments, s
    )
    assert list(tables["learners"]["status"]) == ["constant_outcome"]
    for part, table in tables.items():
        assert list(table.columns) == list(schemas[part])
