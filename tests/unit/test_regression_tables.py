"""Routing and configuration of hte_interaction_regressions: which rows come from cells, which from units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hte_engine.regression.interactions import RegressionSettings, heterogeneity_tests
from hte_engine.regression.tables import experiments_needing_units, interaction_regressions_table


def units_and_cells() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(9)
    frames = []
    for experiment_id, clustered in (("plain", False), ("clustered", True)):
        n = 3000
        frames.append(pd.DataFrame({
            "experiment_id": experiment_id, "unit_id": [f"{experiment_id}{i}" for i in range(n)],
            "arm": rng.choice(["control", "treat"], n), "metric": "m", "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "cluster_id": pd.array(rng.integers(0, 100, n).astype(str) if clustered else [None] * n, dtype=object),
            "device": rng.choice(["mobile", "desktop", "tablet", "tv"], n),
        }))  # fmt: skip
    units = pd.concat(frames, ignore_index=True)
    cells = (
        units.assign(y2=units["y"] ** 2, has_pre_period=True)
        .groupby(["experiment_id", "metric", "arm", "device", "has_pre_period"])
        .agg(n=("y", "size"), sum_y=("y", "sum"), sum_y2=("y2", "sum"))
        .reset_index()
    )
    experiments = pd.DataFrame(
        {
            "experiment_id": ["plain", "plain", "clustered", "clustered"],
            "arm": ["control", "treat"] * 2,
            "is_control": [True, False] * 2,
        }
    )
    return units, cells, experiments


def test_clustered_experiment_is_fit_from_units_and_the_rest_from_cells() -> None:
    units, cells, experiments = units_and_cells()
    settings = RegressionSettings(covariate_adjustment=True)
    assert experiments_needing_units(cells, settings, ["clustered"], []) == ["clustered", "plain"]
    table = interaction_regressions_table(cells, experiments, ["device"], settings, units, False, ["clustered"])
    marginal = table[table["model"] == "marginal"]
    assert set(marginal.loc[marginal["experiment_id"] == "plain", "fit_source"]) == {"cells"}
    assert set(marginal.loc[marginal["experiment_id"] == "clustered", "fit_source"]) == {"units"}
    assert set(marginal.loc[marginal["experiment_id"] == "clustered", "cov_type"]) == {"cluster"}
    lin = table[table["model"] == "covariate_adjusted"].set_index("experiment_id")
    assert lin.loc["clustered", "cov_type"] == "cluster" and lin.loc["plain", "cov_type"] == "HC1"
    tests = heterogeneity_tests(table, "bh")
    assert set(tests["test"]) == {"wald_interactions"} and tests["p_value_adj"].notna().all()


def test_settings_from_meta_read_vars_and_reject_unknown_values() -> None:
    meta = {"regression_cov_type": "HC3", "alpha": "0.1", "p_adjust": "bh", "regression_max_unit_rows": "5000",
            "regression_reference_segment": {"device": "tv"}, "regression_covariate_adjustment": "False"}  # fmt: skip
    settings = RegressionSettings.from_meta(meta)
    assert (settings.cov_type, settings.alpha, settings.p_adjust, settings.max_unit_rows) == ("HC3", 0.1, "bh", 5000)
    assert settings.reference_segments == {"device": "tv"} and settings.covariate_adjustment is False
    with pytest.raises(ValueError, match="hte_regression_cov_type 'HC5'"):
        RegressionSettings.from_meta({"regression_cov_type": "HC5"})
    with pytest.raises(ValueError, match="hte_p_adjust 'fdr'"):
        RegressionSettings(p_adjust="fdr")
