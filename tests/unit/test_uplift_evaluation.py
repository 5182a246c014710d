"""Learner evaluation and choice: real heterogeneity is found and beats random targeting; none is never invented."""

import numpy as np
import pytest

from hte_engine.uplift.evaluation import EvaluationConfig, evaluate_learners
from test_learners import in_unit_order, run, simulate

CONFIG = EvaluationConfig(bootstrap_replicates=60, seed=1)


def test_chosen_learner_beats_random_targeting_on_known_heterogeneity():
    ids, frame, y, t, tau = simulate(4000, 11)
    result = run(ids, frame, y, t)
    ev = evaluate_learners(result, CONFIG)
    chosen = ev.learners.set_index("learner").loc[ev.chosen]
    assert ev.chosen != "constant" and ev.heterogeneity_detected
    assert chosen.qini_coefficient_ci_low > 0 and chosen.autoc_ci_low > 0
    assert chosen.is_chosen and ev.learners.is_chosen.sum() == 1
    corr = np.corrcoef(result.units[f"cate_{ev.chosen}"], in_unit_order(ids, tau))[0, 1]
    print(f"chosen learner {ev.chosen}: correlation with the true effect {corr:.3f}")
    assert corr > 0.7


def test_curve_table_ends_at_the_overall_difference():
    ids, frame, y, t, _ = simulate(1500, 12)
    result = run(ids, frame, y, t, learners=("constant", "t"))
    ev = evaluate_learners(result, CONFIG)
    qini = ev.curves[(ev.curves.learner == "t") & (ev.curves.curve == "qini")]
    u = result.units
    n_t, n_c = u.treated.sum(), (1 - u.treated).sum()
    end = u.y[u.treated == 1].sum() - u.y[u.treated == 0].sum() * n_t / n_c
    assert qini.value.iloc[0] == 0 and qini.value.iloc[-1] == pytest.approx(end, rel=1e-12)
    assert (qini.value_ci_low <= qini.value + 1e-12).all() and (qini.value <= qini.value_ci_high + 1e-12).all()
    assert set(ev.deciles.learner) == {"constant", "t"}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [21, 22, 23])
def test_no_effect_at_all_chooses_the_constant_and_says_so(seed):
    ids, frame, _, t, _ = simulate(3000, seed)
    y = 0.5 * frame["score"].to_numpy() + np.random.default_rng(seed).normal(size=len(t))
    result = run(ids, frame, y, t)
    ev = evaluate_learners(result, CONFIG)
    assert ev.chosen == "constant" and not ev.heterogeneity_detected
    assert ev.reason.startswith("No heterogeneity detected")
    # The learners themselves do report a spread: the peers' failure this choice protects against.
    assert ev.learners.set_index("learner").loc["t", "sd_cate"] > 0
