"""Every output table keeps its columns and their types whatever the data (issue 13, stable schemas).

Two builds of the whole package (SQL and Python models) on tests/fixture_project: the clean fixture, and a
warehouse holding only degenerate experiments, so that no row of any table comes from a healthy comparison:
- exp_constant: every outcome of both metrics is the same value (zero variance: no test, no learner signal);
- exp_tiny: a treatment arm of 3 units beside 400 controls (too few units everywhere, a sample-ratio alert);
- exp_flat: a real but identical effect in every segment (no heterogeneity to find).
Every relation dbt_hte builds must exist in both with the same column names, in the same order, of the same
types; a dashboard reading them never sees a column vanish or change type because the data changed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fixtures import build_fixture, valid_inputs


def degenerate_inputs() -> dict[str, pd.DataFrame]:
    parts = [valid_inputs(seed=11, n_units=500, experiment_id=e) for e in ("exp_constant", "exp_tiny", "exp_flat")]
    frames = {name: pd.concat([p[name] for p in parts], ignore_index=True) for name in parts[0]}
    outcomes, assignments = frames["outcomes"], frames["assignments"]

    constant = outcomes["experiment_id"] == "exp_constant"
    outcomes.loc[constant, "value"] = np.where(outcomes.loc[constant, "metric"] == "conversion", 1.0, 25.0)

    tiny_treated = assignments.index[(assignments["experiment_id"] == "exp_tiny") & (assignments["arm"] == "treatment")]
    dropped = set(assignments.loc[tiny_treated[3:], "unit_id"])
    keep = ~frames["assignments"]["unit_id"].isin(dropped)
    frames["assignments"] = assignments[keep].reset_index(drop=True)
    for name in ("outcomes", "unit_features"):
        frames[name] = frames[name][~frames[name]["unit_id"].isin(dropped)].reset_index(drop=True)

    flat = frames["outcomes"]["experiment_id"] == "exp_flat"
    arm = frames["outcomes"][flat].merge(frames["assignments"], on=["experiment_id", "unit_id"])["arm"].to_numpy()
    rng = np.random.default_rng(3)
    frames["outcomes"].loc[flat, "value"] = np.where(
        frames["outcomes"].loc[flat, "metric"] == "conversion",
        (rng.random(flat.sum()) < 0.2 + 0.1 * (arm == "treatment")).astype(float),
        rng.normal(20.0, 5.0, flat.sum()) + 2.0 * (arm == "treatment"),
    )
    return frames


SCHEMA_SQL = """
    select table_name, column_name, data_type, ordinal_position
    from information_schema.columns
    where table_schema = 'main' and table_name like '%hte\\_%' escape '\\'
        and table_name not like 'fixture\\_%' escape '\\'
    order by table_name, ordinal_position
"""


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    out = {}
    for name, frames in (("clean", valid_inputs()), ("degenerate", degenerate_inputs())):
        result = build_fixture(tmp_path_factory.mktemp(name), frames)
        assert result.ok, f"{name}: " + result.output[-6000:]
        out[name] = result
    return out


def schema(result) -> dict[str, list[tuple[str, str]]]:
    columns = result.query(SCHEMA_SQL)
    return {table: list(zip(rows["column_name"], rows["data_type"])) for table, rows in columns.groupby("table_name")}


def test_the_degenerate_warehouse_is_degenerate(builds):
    lifts = builds["degenerate"].table("hte_segment_lifts")
    overall = lifts[lifts["dimension"] == "overall"].set_index(["experiment_id", "metric"])
    assert overall.loc[("exp_constant", "revenue"), "verdict"] != "positive"
    tiny_segments = lifts[(lifts["experiment_id"] == "exp_tiny") & (lifts["dimension"] != "overall")]
    assert len(tiny_segments) > 0 and tiny_segments["verdict"].isin(["too_small", "not_estimable"]).all()
    scores = builds["degenerate"].table("hte_cate_scores")
    assert len(scores) > 0  # the learners ran on what could be fitted


def test_every_output_keeps_its_columns_and_types(builds):
    clean, degenerate = schema(builds["clean"]), schema(builds["degenerate"])
    assert len(clean) > 40 and "hte_learner_evaluation" in clean and "hte_targeting_units" in clean
    assert sorted(degenerate) == sorted(clean), "the builds made different relations"
    differing = {
        table: {
            "clean": [c for c in clean[table] if c not in degenerate[table]],
            "degenerate": [c for c in degenerate[table] if c not in clean[table]],
        }
        for table in clean
        if clean[table] != degenerate[table]
    }
    assert not differing, differing
