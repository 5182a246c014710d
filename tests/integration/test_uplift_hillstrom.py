"""The uplift pipeline on real data: Hillstrom's women's e-mail against no e-mail, on visits.

Known from the data: the women's e-mail lifts visits by about 4.5 points overall, about 7.6 points among customers
who bought women's merchandise last year and about 1.5 among those who did not (a difference of about six
points). The chosen learner must rank customers better than random (Qini interval above zero) and the discovered
segments must split on that purchase history.
"""

import numpy as np
import pandas as pd
import pytest

from dbt_runner import HILLSTROM_CSV, HILLSTROM_MISSING, hillstrom_present
from fixtures import ab_experiment
from hte_engine.uplift.tables import UpliftSettings, cate_scores, discovered_segments, evaluation_tables

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hillstrom_present(), reason=HILLSTROM_MISSING)]

ARMS = {"No E-Mail": "no_email", "Womens E-Mail": "womens_email"}
FEATURES = ["recency", "history", "history_segment", "mens", "womens", "zip_code", "newbie", "channel"]


@pytest.fixture(scope="module")
def hillstrom():
    raw = pd.read_csv(HILLSTROM_CSV)
    raw = raw[raw["segment"].isin(list(ARMS))].reset_index(drop=True)
    unit_id = ("h" + raw.index.astype(str).str.zfill(5)).to_numpy()
    arm = raw["segment"].map(ARMS).to_numpy()
    experiment = "hillstrom_email"
    units = pd.DataFrame(
        {
            "experiment_id": experiment,
            "unit_id": unit_id,
            "arm": arm,
            "metric": "visit",
            "y": raw["visit"].astype(float),
            "x": np.nan,
            "cluster_id": None,
        }
    )
    features = raw[FEATURES].assign(experiment_id=experiment, unit_id=unit_id)
    # 0/1 purchase flags are categories, as the integration project declares them to dbt_hte.
    features[["mens", "womens", "newbie"]] = features[["mens", "womens", "newbie"]].astype(str)
    assignments = pd.DataFrame({"experiment_id": experiment, "unit_id": unit_id, "arm": arm, "propensity": np.nan})
    experiments = ab_experiment(experiment, control="no_email", treatment="womens_email")
    settings = UpliftSettings.from_meta(
        {
            "feature_columns": FEATURES,
            "metrics": {"visit": {"kind": "binary"}},
            "uplift_bootstrap_replicates": 100,
            "uplift_min_leaf_size": 2000,
        }
    )
    scores = cate_scores(units, features, assignments, experiments, settings)
    args = (units, features, assignments, experiments, settings)
    return {
        "raw": raw,
        "scores": scores,
        "evaluation": evaluation_tables(scores, *args, parts=("learners",)),
        "segments": discovered_segments(scores, *args),
    }


def test_the_chosen_learner_ranks_better_than_random(hillstrom):
    learners = hillstrom["evaluation"]["learners"]
    chosen = learners[learners["is_chosen"]].iloc[0]
    print(
        learners[
            [
                "learner",
                "qini_coefficient",
                "qini_coefficient_ci_low",
                "blp_heterogeneity_p_value",
                "dr_loss_vs_constant",
                "is_chosen",
            ]
        ].to_string()
    )
    assert chosen["learner"] != "constant"
    assert chosen["qini_coefficient_ci_low"] > 0


def test_discovered_segments_separate_womens_merchandise_buyers(hillstrom):
    raw, segments = hillstrom["raw"], hillstrom["segments"]
    print(segments[["rule", "n_units", "effect", "effect_ci_low", "effect_ci_high", "p_value_adj"]].to_string())
    # The root split is on the purchase history, so every leaf's rule states it.
    buyers = segments["rule"].str.contains("womens = 1")
    non_buyers = segments["rule"].str.contains("womens = 0")
    assert (buyers | non_buyers).all() and buyers.any() and non_buyers.any()
    lift = {}
    for flag, rows in ((1, segments[buyers]), (0, segments[non_buyers])):
        lift[flag] = np.average(rows["effect"], weights=rows["n_units"])
    observed = {
        flag: part.loc[part.segment == "Womens E-Mail", "visit"].mean()
        - part.loc[part.segment == "No E-Mail", "visit"].mean()
        for flag, part in raw.groupby("womens")
    }
    # The honest leaves, pooled by purchase history, land within 2.5 points of the raw difference in means of that
    # group (half the units estimate the leaves, so their standard error is about 1 point), and the two groups'
    # lifts differ by about six points.
    for flag in (0, 1):
        assert lift[flag] == pytest.approx(observed[flag], abs=0.025)
    assert 0.035 < lift[1] - lift[0] < 0.09
