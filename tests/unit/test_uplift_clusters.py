"""Clustered units (assignments with cluster_id): folds, bootstrap replicates and the honest split keep clusters
whole, and standard errors are cluster-robust. Units of a cluster share outcome noise; treating them as
independent leaks that noise into "out-of-fold" predictions and makes intervals too narrow."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from hte_engine.resampling import bootstrap, resampling_keys
from hte_engine.uplift.calibration import decile_table, mean_se
from hte_engine.uplift.crossfit import CrossFitConfig, CrossFitResult, assign_folds, cross_fit
from hte_engine.uplift.discovery import discover_segments
from hte_engine.uplift.evaluation import EvaluationConfig, evaluate_learners
from hte_engine.uplift.features import prepare_features
from hte_engine.uplift.tables import (
    cate_scores,
    discovered_segments,
    effect_drivers_table,
    evaluation_tables,
    plan_comparisons,
)
from test_uplift_pipeline import inputs, settings

FAST = {"max_iter": 30, "learning_rate": 0.1, "early_stopping": False, "min_samples_leaf": 20}


def clustered(n_clusters=150, size=20, seed=0):
    """Units in clusters sharing a noise term u_g; 'site' is a cluster-level feature unrelated to the outcome
    except that a model can memorise it to recognise a cluster."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(n_clusters), size)
    n = cluster.size
    u = rng.normal(size=n_clusters)
    frame = pd.DataFrame({"site": rng.random(n_clusters)[cluster], "x": rng.normal(size=n)})
    t = (rng.random(n) < 0.5).astype(int)
    y = u[cluster] + 0.5 * frame["x"].to_numpy() + rng.normal(scale=0.5, size=n)
    ids = np.array([f"u{i:05d}" for i in range(n)], dtype=object)
    keys = np.array([f"c{c:03d}" for c in cluster], dtype=object)
    return ids, keys, frame, y, t, u[cluster]


def test_cluster_folds_keep_clusters_whole_and_every_arm_in_every_fold():
    rng = np.random.default_rng(1)
    # Cluster-randomised clusters of unequal size, plus clusters whose units were randomised individually.
    sizes = rng.integers(1, 30, 90)
    cluster = np.repeat(np.arange(90), sizes)
    arm = np.where(np.arange(90) < 30, 0, np.where(np.arange(90) < 60, 1, -1))[cluster]
    arm = np.where(arm == -1, rng.integers(0, 2, cluster.size), arm)
    keys = np.array([f"k{c}" for c in cluster], dtype=object)
    fold = assign_folds(arm, 5, seed=3, cluster=keys)
    assert pd.Series(fold).groupby(keys).nunique().max() == 1
    for a in (0, 1):
        per_fold = pd.Series(keys[arm == a]).groupby(fold[arm == a]).nunique()
        assert set(per_fold.index) == set(range(5))
        assert per_fold.max() - per_fold.min() <= 2
    # The same clusters in another row order get the same folds; without clusters nothing changed.
    perm = rng.permutation(keys.size)
    np.testing.assert_array_equal(assign_folds(arm[perm], 5, seed=3, cluster=keys[perm]), fold[perm])
    unit_folds = assign_folds(arm, 5, seed=3)
    assert pd.Series(unit_folds).groupby(keys).nunique().max() > 1


def test_cluster_folds_stop_cluster_noise_leaking_into_out_of_fold_predictions():
    ids, keys, frame, y, t, noise = clustered()
    X = prepare_features(frame, ["site", "x"])
    config = CrossFitConfig(base_model=FAST, learners=("constant", "t"), seed=0)
    order = np.argsort(ids, kind="stable")

    def leak(cluster):
        result = cross_fit(ids, X, y, t, np.full(y.size, 0.5), False, config, "clustered", cluster=cluster)
        # mu0 minus the part the features explain: what the model believes about the unit's own cluster noise.
        return result, np.corrcoef(result.units["mu0"] - 0.5 * frame["x"].to_numpy()[order], noise[order])[0, 1]

    by_unit, unit_leak = leak(None)
    by_cluster, cluster_leak = leak(keys)
    print(
        f"correlation of out-of-fold mu0 with the unit's own cluster noise: unit folds {unit_leak:.3f}, "
        f"cluster folds {cluster_leak:.3f}"
    )
    # Unit folds: cluster-mates in the training folds teach the model the 'site' of the unit's cluster (measured
    # 0.53). Cluster folds: the model never saw the cluster, so its prediction cannot know the noise (measured
    # 0.00; 150 clusters give a standard error of about 0.08).
    assert unit_leak > 0.35 and abs(cluster_leak) < 0.2
    folds = pd.Series(by_cluster.units["fold"].to_numpy()).groupby(keys[order]).nunique()
    assert folds.max() == 1
    with pytest.raises(ValueError, match="clusters"):
        few = np.where(t == 1, "treated_cluster", keys).astype(object)
        cross_fit(ids, X, y, t, np.full(y.size, 0.5), False, config, "clustered", cluster=few)


def test_resampling_keys_coalesce_cluster_and_unit():
    keys = resampling_keys(["a", "b", "c"], pd.Series(["g1", None, np.nan], dtype=object))
    assert list(keys) == ["g1", "b", "c"]
    assert list(resampling_keys([1, 2])) == ["1", "2"]


@pytest.mark.slow
def test_cluster_keyed_intervals_cover_and_unit_keyed_intervals_under_cover():
    # Cluster-randomised experiment: 60 clusters of 10 units, cluster noise as large as unit noise (intraclass
    # correlation 0.5, design effect 1 + 9 * 0.5 = 5.5). The true effect is 0.3.
    n_clusters, size, effect, sims = 60, 10, 0.3, 200
    covered = {"unit": 0, "cluster": 0}
    for s in range(sims):
        rng = np.random.default_rng(1000 + s)
        cluster = np.repeat(np.arange(n_clusters), size)
        arm = rng.permutation(np.repeat([0, 1], n_clusters // 2))[cluster]
        y = effect * arm + rng.normal(size=n_clusters)[cluster] + rng.normal(size=cluster.size)

        def difference(w):
            w = np.ones(y.size) if w is None else w
            return [np.average(y, weights=w * arm) - np.average(y, weights=w * (1 - arm))]

        units = np.array([f"s{s}u{i}" for i in range(y.size)], dtype=object)
        keys = {"unit": units, "cluster": resampling_keys(units, [f"s{s}c{c}" for c in cluster])}
        for name, key in keys.items():
            summary = bootstrap(difference, key, 100, seed=s)
            covered[name] += summary.ci_low[0] <= effect <= summary.ci_high[0]
    coverage = {name: hits / sims for name, hits in covered.items()}
    print("coverage of 95% intervals:", coverage)
    # Measured 0.55 (unit) and 0.93 (cluster). A unit-keyed interval is about 1 / sqrt(5.5) as wide as it should
    # be, so it covers about 2 * Phi(1.96 / 2.35) - 1 = 0.60; 200 simulations estimate a coverage to +-0.03.
    assert coverage["unit"] < 0.75
    assert 0.88 <= coverage["cluster"] <= 0.99


def _duplicated(n=1500, copies=3, seed=5):
    """A cross-fit result, and the same units each copied ``copies`` times as a cluster of identical units."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    x = rng.normal(size=n)
    y = (rng.random(n) < 0.3 + 0.1 * t * (x > 0)).astype(float)
    mu0, mu1 = np.full(n, 0.3), 0.3 + 0.1 * (x > 0)
    fold = rng.integers(0, 5, n)
    scores = {"constant": 0.05 + 0.001 * rng.normal(size=n), "t": 0.1 * (x > 0) + 0.01 * x}
    unit_id = [f"u{i:05d}" for i in range(n)]
    original = CrossFitResult.from_nuisances(unit_id, fold, y, t, 0.5, mu0, mu1, scores, {k: n for k in range(5)})
    units = original.units
    copied = units.loc[units.index.repeat(copies)].reset_index(drop=True)
    cluster = copied["unit_id"].copy()
    copied["unit_id"] = copied["unit_id"] + "_" + (copied.groupby("unit_id").cumcount()).astype(str)
    return (
        original,
        CrossFitResult(units=copied, learners=("constant", "t"), n_train_rows={k: n for k in range(5)}),
        cluster,
    )


def test_evaluation_resamples_whole_clusters():
    # Each copied cluster gets its original unit's weight in every replicate, and the Qini coefficient, AUUC and
    # uplift at k are ratios of weighted sums, so keyed on the cluster the copies reproduce the original
    # intervals exactly; keyed on the copies (the old behaviour), they are too narrow by about sqrt(copies).
    original, copied, cluster = _duplicated()
    config = EvaluationConfig(bootstrap_replicates=40, seed=2)
    want = evaluate_learners(original, config, binary=True, parts=("learners",)).learners.set_index("learner")
    got = evaluate_learners(copied, config, binary=True, cluster=cluster, parts=("learners",)).learners
    got = got.set_index("learner")
    naive = evaluate_learners(copied, config, binary=True, parts=("learners",)).learners.set_index("learner")
    columns = [
        "qini_coefficient",
        "qini_coefficient_se",
        "qini_coefficient_ci_low",
        "auuc_se",
        "auuc_ci_high",
        "uplift_at_20_ci_low",
        "uplift_at_50_ci_high",
    ]
    for column in columns:
        np.testing.assert_allclose(got.loc["t", column], want.loc["t", column], rtol=1e-9, err_msg=column)
    assert naive.loc["t", "qini_coefficient_se"] < 0.75 * want.loc["t", "qini_coefficient_se"]
    assert got.loc["t", "n_clusters"] == 1500 and pd.isna(want.loc["t", "n_clusters"])
    # The analytic standard errors are cluster-robust too: a cluster of identical copies carries one unit's
    # information, so the copies' standard error is the original's up to the G / (G - 1) and ddof factors.
    ratio = got.loc["t", "dr_loss_vs_constant_se"] / want.loc["t", "dr_loss_vs_constant_se"]
    assert ratio == pytest.approx(1.0, abs=2e-3)


def test_cluster_robust_standard_error_of_a_mean_matches_the_closed_form():
    rng = np.random.default_rng(7)
    cluster = np.repeat(np.arange(40), rng.integers(2, 12, 40))
    values = rng.normal(size=40)[cluster] + rng.normal(size=cluster.size)
    n, g = values.size, 40
    totals = pd.Series(values - values.mean()).groupby(cluster).sum().to_numpy()
    closed_form = np.sqrt(g / (g - 1) * np.sum(totals**2)) / n
    assert mean_se(values, cluster) == pytest.approx(closed_form, rel=1e-10)
    assert mean_se(values) == pytest.approx(values.std(ddof=1) / np.sqrt(n), rel=1e-12)
    assert np.isnan(mean_se(values, np.zeros(n)))
    # The observed lift's cluster-robust standard error is statsmodels' OLS y ~ 1 + treated with clusters.
    t = (rng.random(n) < 0.5).astype(int)
    table = decile_table(np.zeros(n), values, t, values, n_groups=10, cluster=cluster)
    fit = sm.OLS(values, sm.add_constant(t)).fit(cov_type="cluster", cov_kwds={"groups": cluster})
    assert table["observed_lift_se"].iloc[0] == pytest.approx(fit.bse[1], rel=1e-10)


def test_honest_halves_keep_clusters_whole():
    rng = np.random.default_rng(8)
    n, copies = 1200, 4
    features = pd.DataFrame({"score": rng.normal(size=n)})
    t = rng.integers(0, 2, n)
    gamma = 0.5 * (features["score"].to_numpy() > 0) + rng.normal(size=n)
    repeat = np.repeat(np.arange(n), copies)
    table = discover_segments(
        features.iloc[repeat].reset_index(drop=True),
        gamma[repeat],
        t[repeat],
        max_depth=2,
        min_leaf_size=200,
        seed=0,
        cluster=np.array([f"c{i}" for i in repeat], dtype=object),
    )
    # Every cluster lies wholly in one half: leaf sizes in both halves are whole numbers of clusters, and the
    # leaves' standard errors count clusters, not copies.
    assert (table["n_units"] % copies == 0).all() and (table["n_grow"] % copies == 0).all()
    assert table["n_units"].sum() + table["n_grow"].sum() == n * copies
    unclustered = discover_segments(
        features.iloc[repeat].reset_index(drop=True), gamma[repeat], t[repeat], max_depth=2, min_leaf_size=200, seed=0
    )
    assert (unclustered["n_units"] % copies != 0).any()
    # A leaf of m clusters of 4 identical copies holds m units' information: its standard error is about
    # sqrt(4) = 2 times what the same number of independent units would give.
    independent = unclustered["effect_se"] * np.sqrt(unclustered["n_units"])
    clustered_leaf = table["effect_se"] * np.sqrt(table["n_units"])
    assert clustered_leaf.mean() / independent.mean() == pytest.approx(2.0, rel=0.15)


def test_the_constant_learner_has_one_group_labelled_one_with_its_own_prediction():
    original, _, _ = _duplicated()
    deciles = evaluate_learners(
        original, EvaluationConfig(bootstrap_replicates=10), binary=True, parts=("deciles",)
    ).deciles
    constant = deciles[deciles.learner == "constant"]
    assert list(constant["decile"]) == [1] and list(constant["status"]) == ["tied_scores"]
    assert constant["n_units"].iloc[0] == len(original.units)
    # Its prediction is the training folds' average effect, not the zero it is ranked by.
    assert constant["mean_predicted"].iloc[0] == pytest.approx(original.units["cate_constant"].mean(), rel=1e-12)
    assert (deciles.loc[deciles.learner == "t", "status"] == "ok").all()


def _clustered_inputs(n=1500, n_clusters=60, seed=0):
    units, features, assignments, experiments = inputs(n=n, seed=seed)
    cluster = np.random.default_rng(seed + 100).integers(0, n_clusters, n)
    units["cluster_id"] = [f"h{c}" for c in cluster]
    return units, features, assignments, experiments


def test_the_pipeline_keeps_clusters_together_and_refuses_too_few_clusters():
    units, features, assignments, experiments = _clustered_inputs()
    s = settings()
    scores = cate_scores(units, features, assignments, experiments, s)
    cluster_of = units.set_index("unit_id")["cluster_id"]
    per_cluster = scores.drop_duplicates("unit_id").groupby(scores["unit_id"].map(cluster_of))["fold"].nunique()
    assert per_cluster.max() == 1
    learners = evaluation_tables(scores, units, features, assignments, experiments, s, parts=("learners",))
    assert (learners["learners"]["n_clusters"] == 60).all()

    few = units.assign(cluster_id=np.where(units["arm"] == "treat", "one_site", units["cluster_id"]))
    [plan] = plan_comparisons(few, features, assignments, experiments, s)
    assert plan.status == "too_few_clusters" and "1 treated and 60 control clusters" in plan.reason


def _leaking_inputs():
    units, features, assignments, experiments = inputs(n=1500, seed=9)
    treated = (assignments["arm"] == "treat").to_numpy()
    # A feature recorded after the treatment moved it: refused, which puts a sentence in the plan's reason.
    features["after"] = np.random.default_rng(9).normal(size=len(features)) + 2.0 * treated
    return units, features, assignments, experiments


def test_status_rows_say_why_they_have_no_numbers_not_which_features_were_refused():
    units, features, assignments, experiments = _leaking_inputs()
    s = settings(feature_columns=["tenure", "device", "after"], uplift_learners=["constant"])
    [plan] = plan_comparisons(units, features, assignments, experiments, s)
    assert plan.status == "ok" and plan.features_refused == ["after"] and "refused" in plan.reason
    scores = cate_scores(units, features, assignments, experiments, s)
    evaluation = evaluation_tables(scores, units, features, assignments, experiments, s, parts=("learners",))[
        "learners"
    ]
    assert evaluation["is_chosen"].all() and (evaluation["learner"] == "constant").all()
    drivers = effect_drivers_table(scores, evaluation, units, features, assignments, experiments, s)
    assert list(drivers["status"]) == ["no_heterogeneity"]
    assert "no heterogeneity detected" in drivers["reason"].iloc[0]
    assert "refused" not in drivers["reason"].iloc[0]
    unscored = discovered_segments(scores.iloc[0:0], units, features, assignments, experiments, s)
    assert list(unscored["status"]) == ["not_scored"]
    assert "hte_cate_scores has no rows" in unscored["reason"].iloc[0]


def test_the_calibration_test_with_clusters_uses_cluster_robust_errors_and_g_minus_one_degrees_of_freedom():
    from scipy import stats

    from hte_engine.uplift.calibration import blp_calibration_test

    rng = np.random.default_rng(11)
    cluster = np.repeat(np.arange(12), 25)
    n = cluster.size
    x = rng.normal(size=n)
    t = rng.integers(0, 2, n)
    tau = 0.3 * (x > 0)
    y = x + t * tau + rng.normal(size=12)[cluster] + rng.normal(size=n)
    cate = tau + 0.1 * rng.normal(size=n)
    result = blp_calibration_test(y, t, np.full(n, 0.5), x, x + tau, cate, cluster)
    design = np.column_stack([cate.mean() * (t - 0.5), (cate - cate.mean()) * (t - 0.5)])
    fit = sm.OLS(y - x - 0.5 * tau, design).fit(cov_type="cluster", cov_kwds={"groups": cluster})
    assert result.heterogeneity_loading_se == pytest.approx(fit.bse[1], rel=1e-10)
    # 12 clusters: 11 degrees of freedom, not n - 2 = 298, which would overstate the evidence.
    assert result.heterogeneity_p_value == pytest.approx(stats.t.sf(fit.params[1] / fit.bse[1], 11), rel=1e-10)


def test_the_dr_learners_inner_halves_keep_clusters_whole(monkeypatch):
    import hte_engine.uplift.learners as learners

    ids, keys, frame, y, t, _ = clustered(n_clusters=60, size=10)
    X = prepare_features(frame, ["site", "x"])
    seen = []
    fit = learners.OutcomeModels.fit.__func__
    monkeypatch.setattr(
        learners.OutcomeModels,
        "fit",
        classmethod(lambda cls, base, sample: seen.append(sample.X.index.to_numpy()) or fit(cls, base, sample)),
    )
    config = CrossFitConfig(base_model=FAST, learners=("dr",), seed=0, folds=3)
    cross_fit(ids, X, y, t, np.full(y.size, 0.5), False, config, "clustered", cluster=keys)
    cluster_at = keys[np.argsort(ids, kind="stable")]
    # Per fold: the outer outcome models' training set, then the DR learner's two inner halves.
    for outer, first, second in zip(seen[0::3], seen[1::3], seen[2::3]):
        assert set(first) | set(second) == set(outer)
        assert not set(cluster_at[first]) & set(cluster_at[second])
