"""Monitoring models, built the way a scheduler runs them (tests/fixture_project, one DuckDB file for the whole
sequence): nightly `dbt build`s on growing inputs with an advancing hte_run_date, a rerun of a past date, a failed
run on bad input in the middle, and a full refresh at the end. Then, on the tables the sequence built:

* hte_lift_history / hte_check_history hold exactly one row set per run date; a rerun replaces its date only; the
  failed run leaves every table as the last good run left it; a full refresh keeps only its own date.
* hte_alerts equals the changes recomputed in pandas from the histories, and is not vacuous (a verdict and a
  sample-ratio check change in the sequence).
* The SQL confidence sequences and sequential p-values equal the published formulas (tests/sequential_reference.py)
  to 1e-12 relative, and the adjusted sequential p-values equal statsmodels multipletests (1e-12).
* hte_cohort_lifts equals Welch lifts computed in pandas on the unit rows (1e-9 relative); hte_cohort_trends equals
  statsmodels WLS with fixed scale on those cohort lifts (1e-9 relative), and finds the planted decline.

The data have a known truth: the effect on conversion falls linearly with the assignment week (+15, +5, -5, -15
percentage points in weeks 0-3: slope -10 pp a week), so the overall lift shrinks to 0 as later cohorts arrive.
"""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

import reference as ref
from dbt_runner import ensure_deps, run_dbt
from fixtures import FIXTURE_PROJECT, ab_experiment, fixture_env, write_inputs
from hte_engine.report import DuckDBReader, build_report, write_report
from hte_engine.report.page import interval
from sequential_reference import p_value_sequential, radius_waudby_smith
from test_report import chromium, parse, render  # noqa: F401  (chromium is a fixture)

START = pd.Timestamp("2026-03-02")  # a Monday: cohort weeks start on Mondays
WEEKLY_EFFECT = [0.15, 0.05, -0.05, -0.15]
PLANTED_SLOPE = -0.10
SELECT = "+hte_alerts +hte_cohort_trends"
MONITORING = [
    "hte_segment_lifts",
    "hte_lift_history",
    "hte_check_history",
    "hte_alerts",
    "hte_cohort_lifts",
    "hte_cohort_trends",
]
KEY = ["experiment_id", "metric", "dimension", "segment", "arm"]


def population(seed: int = 5, n_units: int = 8_000) -> dict[str, pd.DataFrame]:
    """Every unit the experiment will ever have, with its assignment time; a day's inputs are those assigned so far."""
    rng = np.random.default_rng(seed)
    unit_ids = [f"u{i:05d}" for i in range(n_units)]
    assigned_at = START + pd.to_timedelta(rng.uniform(0, 28 * 86_400, n_units).round(), unit="s")
    week = ((assigned_at - START).days // 7).to_numpy()
    arms = rng.choice(["control", "treatment"], size=n_units)
    treated = (arms == "treatment").astype(float)
    conversion = (rng.random(n_units) < 0.3 + treated * np.asarray(WEEKLY_EFFECT)[week]).astype(float)
    pre = rng.gamma(2.0, 5.0, n_units).round(2)
    revenue = (0.5 * pre + rng.gamma(2.0, 10.0, n_units)).round(2)  # no effect: the null for the trend test
    assignments = pd.DataFrame({"experiment_id": "exp_a", "unit_id": unit_ids, "arm": arms, "assigned_at": assigned_at})
    features = pd.DataFrame(
        {
            "experiment_id": "exp_a",
            "unit_id": unit_ids,
            "features_at": assigned_at - pd.Timedelta(days=1),
            "segment_a": rng.choice(["north", "south", "east"], n_units),
            "segment_b": rng.choice(["new", "returning"], n_units),
            "score": rng.normal(size=n_units),
        }
    )
    outcomes = pd.concat(
        [
            pd.DataFrame(
                {
                    "experiment_id": "exp_a",
                    "unit_id": unit_ids,
                    "metric": "conversion",
                    "value": conversion,
                    "pre_value": np.nan,
                }
            ),
            pd.DataFrame(
                {"experiment_id": "exp_a", "unit_id": unit_ids, "metric": "revenue", "value": revenue, "pre_value": pre}
            ),
        ],
        ignore_index=True,
    )
    experiments = ab_experiment("exp_a")
    return {"assignments": assignments, "unit_features": features, "outcomes": outcomes, "experiments": experiments}


def inputs_on(day: int, *, broken: bool = False, lost_treatment_share: float = 0.0) -> dict[str, pd.DataFrame]:
    """The inputs as they stand at the end of `day`: units assigned before START + day. lost_treatment_share drops
    that share of the last week's treatment units (a logging bug: the sample-ratio check must start alerting);
    broken duplicates one assignment row (bad input: the build must fail)."""
    full = population()
    cutoff = START + pd.Timedelta(days=day)
    a = full["assignments"]
    keep = a["assigned_at"] < cutoff
    if lost_treatment_share:
        rng = np.random.default_rng(99)
        last_week = (a["assigned_at"] >= cutoff - pd.Timedelta(days=7)) & (a["arm"] == "treatment")
        keep &= ~(last_week & (rng.random(len(a)) < lost_treatment_share))
    units = set(a.loc[keep, "unit_id"])
    frames = {
        name: frame[frame["unit_id"].isin(units)].reset_index(drop=True) if "unit_id" in frame else frame
        for name, frame in full.items()
    }
    if broken:
        frames["assignments"] = pd.concat([frames["assignments"], frames["assignments"].head(1)], ignore_index=True)
    return frames


def run_date(day: int) -> str:
    return (START + pd.Timedelta(days=day)).date().isoformat()


def snapshot(result) -> dict[str, pd.DataFrame]:
    return {name: result.table(name) for name in MONITORING}


def sort(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(
        list(frame.columns.drop("run_at", errors="ignore")), na_position="last", key=lambda s: s.astype(str)
    ).reset_index(drop=True)


@pytest.fixture(scope="module")
def schedule(tmp_path_factory) -> dict:
    """The scheduler's sequence in one DuckDB file; what each step left behind."""
    workdir = tmp_path_factory.mktemp("monitoring_schedule")
    steps: dict[str, dict] = {}

    ensure_deps(FIXTURE_PROJECT, workdir / "deps")

    def build(name, day, frames, select=SELECT):
        # the same DuckDB file and input directory every night, as a scheduled job has
        data_dir = write_inputs(workdir / "inputs", frames)
        args = ["build", "--select", *select.split()] + (["--full-refresh"] if name == "full_refresh" else [])
        # the learners' part of hte_alerts is tested on the demo build (test_learner_choice_change_is_an_alert):
        # here hte_alerts reads the SQL histories only, so the schedule does not fit learners on every night
        result = run_dbt(
            args,
            workdir,
            vars={"hte_run_date": run_date(day), "hte_alert_on_learner_choice": False},
            project_dir=FIXTURE_PROJECT,
            env=fixture_env(data_dir),
        )
        steps[name] = {"result": result, "ok": result.ok, "day": day}
        if result.ok:
            steps[name]["tables"] = snapshot(result)
        return result

    for day in (7, 14, 21):
        result = build(f"day{day}", day, inputs_on(day))
        assert result.ok, result.output[-5000:]
    result = build("rerun14", 14, inputs_on(14))
    assert result.ok, result.output[-5000:]
    build("failed28", 28, inputs_on(28, broken=True))
    steps["after_failure"] = {"tables": snapshot(steps["failed28"]["result"])}
    result = build("day28", 28, inputs_on(28, lost_treatment_share=0.4))
    assert result.ok, result.output[-5000:]
    steps["day28"]["database"] = shutil.copy(result.db_path, workdir / "after_day28.duckdb")
    result = build(
        "full_refresh", 28, inputs_on(28, lost_treatment_share=0.4), select="hte_lift_history hte_check_history"
    )
    assert result.ok, result.output[-5000:]
    return steps


def test_history_holds_one_row_set_per_date(schedule):
    history = schedule["day28"]["tables"]["hte_lift_history"]
    dates = sorted(history["run_date"].astype(str).str[:10].unique())
    assert dates == [run_date(d) for d in (7, 14, 21, 28)]
    assert not history.duplicated(["run_date", *KEY]).any()
    # each date holds exactly the rows hte_segment_lifts had when that date was (last) built
    for name, day in (("day7", 7), ("rerun14", 14), ("day21", 21), ("day28", 28)):
        lifts = schedule[name]["tables"]["hte_segment_lifts"]
        rows = history[history["run_date"].astype(str).str[:10] == run_date(day)]
        assert len(rows) == len(lifts) > 0, name
        merged = rows.merge(lifts, on=KEY, suffixes=("", "_lifts"))
        assert len(merged) == len(lifts)
        np.testing.assert_array_equal(merged["lift_abs"].to_numpy(), merged["lift_abs_lifts"].to_numpy())
        assert (merged["verdict"] == merged["verdict_lifts"]).all()
    checks = schedule["day28"]["tables"]["hte_check_history"]
    assert sorted(checks["run_date"].astype(str).str[:10].unique()) == dates
    assert not checks.duplicated(["run_date", "experiment_id", "check_name", "dimension", "segment"]).any()


def test_earlier_dates_are_never_touched(schedule):
    first = schedule["day7"]["tables"]["hte_lift_history"]
    last = schedule["day28"]["tables"]["hte_lift_history"]
    day7_later = last[last["run_date"].astype(str).str[:10] == run_date(7)]
    pd.testing.assert_frame_equal(sort(first), sort(day7_later), check_dtype=False)
    # the rerun of day 14 replaced its rows (a later run_at) with the same numbers: same inputs, same answers
    before = schedule["day14"]["tables"]["hte_lift_history"]
    before = before[before["run_date"].astype(str).str[:10] == run_date(14)]
    after = last[last["run_date"].astype(str).str[:10] == run_date(14)]
    assert after["run_at"].min() > before["run_at"].max()
    pd.testing.assert_frame_equal(
        sort(before.drop(columns="run_at")), sort(after.drop(columns="run_at")), check_dtype=False
    )


def test_failed_run_leaves_the_last_good_tables(schedule):
    assert not schedule["failed28"]["ok"]
    assert "duplicate" in schedule["failed28"]["result"].output.lower()
    good, after = schedule["rerun14"]["tables"], schedule["after_failure"]["tables"]
    for name in MONITORING:
        pd.testing.assert_frame_equal(sort(good[name]), sort(after[name]), check_dtype=False, obj=name)


def test_full_refresh_keeps_only_what_the_inputs_can_rebuild(schedule):
    tables = snapshot(schedule["full_refresh"]["result"])
    for name in ("hte_lift_history", "hte_check_history"):
        assert sorted(tables[name]["run_date"].astype(str).str[:10].unique()) == [run_date(28)], name
    assert len(tables["hte_lift_history"]) == len(schedule["day28"]["tables"]["hte_segment_lifts"])


def expected_alerts(lift_history: pd.DataFrame, check_history: pd.DataFrame, day: int) -> set[tuple]:
    """The changes between the run of `day` and the experiment's run before it, recomputed from the histories."""
    now = pd.Timestamp(run_date(day))
    out = set()
    for frame, key, column in (
        (lift_history, KEY, "verdict"),
        (check_history, ["experiment_id", "check_name", "dimension", "segment"], "status"),
    ):
        frame = frame.assign(run_date=pd.to_datetime(frame["run_date"]))
        for _experiment, rows in frame.groupby("experiment_id"):
            earlier = rows.loc[rows["run_date"] < now, "run_date"]
            if earlier.empty:
                continue
            before = rows[rows["run_date"] == earlier.max()].set_index(key)[column]
            after = rows[rows["run_date"] == now].set_index(key)[column]
            for k in before.index.union(after.index):
                b, a = before.get(k), after.get(k)
                if column == "verdict":
                    sig_b, sig_a = b in ("positive", "negative"), a in ("positive", "negative")
                    kind = (
                        "verdict_flipped"
                        if sig_b and sig_a and a != b
                        else "verdict_appeared"
                        if sig_a and not sig_b
                        else "verdict_disappeared"
                        if sig_b and not sig_a
                        else None
                    )
                else:
                    kind = (
                        "check_started_alerting"
                        if a == "alert" and b != "alert"
                        else "check_stopped_alerting"
                        if b == "alert" and a != "alert"
                        else None
                    )
                if kind:
                    out.add((kind, *[None if pd.isna(v) else v for v in k], b, a))
    return out


def alert_rows(alerts: pd.DataFrame) -> set[tuple]:
    rows = set()
    for r in alerts.itertuples():
        key = (
            (r.experiment_id, r.metric, r.dimension, r.segment, r.arm)
            if r.source == "lift"
            else (r.experiment_id, r.check_name, r.dimension, r.segment)
        )
        rows.add(
            (
                r.alert_type,
                *[None if pd.isna(v) else v for v in key],
                None if pd.isna(r.value_before) else r.value_before,
                None if pd.isna(r.value_after) else r.value_after,
            )
        )
    return rows


@pytest.mark.parametrize("step", ["day7", "day14", "day21", "rerun14", "day28"])
def test_alerts_are_the_changes_since_the_previous_run(schedule, step):
    tables, day = schedule[step]["tables"], schedule[step]["day"]
    expected = expected_alerts(tables["hte_lift_history"], tables["hte_check_history"], day)
    assert alert_rows(tables["hte_alerts"]) == expected
    if step == "day7":
        assert tables["hte_alerts"].empty  # the first run has nothing to compare with
    else:
        previous = {"day14": 7, "day21": 14, "rerun14": 7, "day28": 21}[step]
        assert set(tables["hte_alerts"]["previous_run_date"].astype(str).str[:10]) <= {run_date(previous)}


def test_alerts_report_the_planted_changes(schedule):
    alerts = schedule["day28"]["tables"]["hte_alerts"]
    # the logging bug of the last week: the whole-experiment sample-ratio check starts alerting
    srm = alerts[(alerts["check_name"] == "sample_ratio_mismatch") & (alerts["alert_type"] == "check_started_alerting")]
    assert len(srm) == 1 and srm.iloc[0]["value_before"] == "pass" and srm.iloc[0]["value_after"] == "alert"
    # the overall conversion lift, positive while early cohorts dominated, is no longer distinguishable from 0
    overall = alerts[(alerts["metric"] == "conversion") & (alerts["dimension"] == "overall")]
    assert list(overall["alert_type"]) == ["verdict_disappeared"]
    assert overall.iloc[0]["value_before"] == "positive"


def test_sequential_columns_equal_the_published_formulas(schedule):
    lifts = schedule["day28"]["tables"]["hte_segment_lifts"]
    alpha, tuning_n = float(lifts["alpha"].iloc[0]), float(lifts["sequential_tuning_n"].iloc[0])
    assert tuning_n == 10_000
    t = (lifts["n_treatment"] + lifts["n_control"]).to_numpy(float)
    for lift, se, low, high, p in (
        ("lift_abs", "lift_abs_se", "lift_abs_cs_low", "lift_abs_cs_high", "p_value_sequential"),
        ("lift_cuped", "lift_cuped_se", "lift_cuped_cs_low", "lift_cuped_cs_high", "lift_cuped_p_value_sequential"),
    ):
        ok = (lifts[se] > 0).to_numpy()
        assert ok.sum() >= 6  # every row of a metric (CUPED: revenue only, the metric with a pre-period)
        radius = radius_waudby_smith(lifts[se].to_numpy(float)[ok], t[ok], alpha, tuning_n)
        np.testing.assert_allclose(lifts[low].to_numpy(float)[ok], lifts[lift].to_numpy(float)[ok] - radius, rtol=1e-12)
        np.testing.assert_allclose(
            lifts[high].to_numpy(float)[ok], lifts[lift].to_numpy(float)[ok] + radius, rtol=1e-12
        )
        np.testing.assert_allclose(
            lifts[p].to_numpy(float)[ok],
            p_value_sequential(lifts[lift].to_numpy(float)[ok], lifts[se].to_numpy(float)[ok], t[ok], alpha, tuning_n),
            rtol=1e-12,
        )
        assert lifts.loc[~ok, [low, high, p]].isna().all().all()
    # adjusted like p_value_adj: Holm within experiment x metric x arm over the segment rows that count
    family = lifts[(lifts["dimension"] != "overall") & ~lifts["is_too_small"] & lifts["p_value_sequential"].notna()]
    for _, rows in family.groupby(["experiment_id", "metric", "arm"]):
        expected = multipletests(rows["p_value_sequential"], method="holm")[1]
        np.testing.assert_allclose(rows["p_value_sequential_adj"], expected, rtol=1e-12)
    overall = lifts[lifts["dimension"] == "overall"]
    np.testing.assert_array_equal(overall["p_value_sequential_adj"], overall["p_value_sequential"])
    sig = lifts["p_value_sequential_adj"] < alpha
    expected_verdict = np.where(
        lifts["is_too_small"],
        "too_small",
        np.where(
            lifts["p_value_sequential"].isna(),
            "not_estimable",
            np.where(
                sig & (lifts["lift_abs"] > 0),
                "positive",
                np.where(sig & (lifts["lift_abs"] < 0), "negative", "inconclusive"),
            ),
        ),
    )
    assert list(lifts["verdict_sequential"]) == list(expected_verdict)
    assert (lifts["verdict"] == lifts["verdict_fixed"]).all() and set(lifts["verdict_basis"]) == {"fixed"}
    # the sequence is wider: every sequential verdict is also a fixed-horizon verdict of the same sign
    strict = lifts[lifts["verdict_sequential"].isin(["positive", "negative"])]
    assert (strict["verdict_sequential"] == strict["verdict_fixed"]).all()


def test_cohort_lifts_equal_welch_on_the_units(schedule):
    frames = inputs_on(28, lost_treatment_share=0.4)
    units = (
        frames["assignments"]
        .merge(frames["unit_features"], on=["experiment_id", "unit_id"])
        .merge(frames["outcomes"], on=["experiment_id", "unit_id"])
    )
    units["cohort_week"] = units["assigned_at"].dt.to_period("W-SUN").dt.start_time
    cohorts = schedule["day28"]["tables"]["hte_cohort_lifts"]
    cohorts = cohorts.assign(cohort_week=pd.to_datetime(cohorts["cohort_week"]))
    assert sorted(cohorts["cohort_week"].unique()) == [START + pd.Timedelta(weeks=w) for w in range(4)]
    checked = 0
    for dimension in ("overall", "segment_a", "segment_b"):
        groups = units.assign(segment="all") if dimension == "overall" else units.assign(segment=units[dimension])
        for (metric, segment, week), g in groups.groupby(["metric", "segment", "cohort_week"]):
            t, c = g.loc[g["arm"] == "treatment", "value"], g.loc[g["arm"] == "control", "value"]
            row = cohorts[
                (cohorts["metric"] == metric)
                & (cohorts["dimension"] == dimension)
                & (cohorts["segment"] == segment)
                & (cohorts["cohort_week"] == week)
            ]
            assert len(row) == 1
            row = row.iloc[0]
            assert (row["n_treatment"], row["n_control"]) == (len(t), len(c))
            assert row["lift_abs"] == pytest.approx(t.mean() - c.mean(), rel=1e-9, abs=1e-12)
            se = np.sqrt(t.var(ddof=1) / len(t) + c.var(ddof=1) / len(c))
            assert row["lift_abs_se"] == pytest.approx(se, rel=1e-9)
            assert row["cohort_index"] == (week - START).days / 7
            checked += 1
    assert checked == len(cohorts) == 2 * 4 * (1 + 3 + 2)


def test_cohort_trends_equal_statsmodels_wls_and_find_the_planted_decline(schedule):
    cohorts = schedule["day28"]["tables"]["hte_cohort_lifts"]
    trends = schedule["day28"]["tables"]["hte_cohort_trends"]
    for r in trends.itertuples():
        points = cohorts[ref.shares_key(cohorts, r, ["metric", "dimension", "segment", "arm"]) & cohorts["in_trend"]]
        assert r.n_cohorts_in_trend == len(points)
        if len(points) < 2:
            assert r.verdict == "too_few_cohorts" and pd.isna(r.slope)
            continue
        x = sm.add_constant(points["cohort_index"].to_numpy(float))
        fit = sm.WLS(points["lift_abs"].to_numpy(float), x, weights=1 / points["lift_abs_se"].to_numpy(float) ** 2).fit(
            cov_type="fixed scale", cov_kwds={"scale": 1.0}
        )
        assert r.slope == pytest.approx(fit.params[1], rel=1e-9, abs=1e-14)
        assert r.intercept == pytest.approx(fit.params[0], rel=1e-9, abs=1e-14)
        assert r.slope_se == pytest.approx(fit.bse[1], rel=1e-9)
        assert r.p_value == pytest.approx(fit.pvalues[1], rel=1e-9, abs=1e-15)
        assert r.residual_q == pytest.approx(fit.ssr, rel=1e-9, abs=1e-12)
        assert r.residual_df == len(points) - 2
    overall = trends[(trends["metric"] == "conversion") & (trends["dimension"] == "overall")].iloc[0]
    assert overall["verdict"] == "decreasing"
    assert overall["slope_ci_low"] < PLANTED_SLOPE < overall["slope_ci_high"]
    revenue = trends[(trends["metric"] == "revenue") & (trends["dimension"] == "overall")].iloc[0]
    assert revenue["verdict"] == "no_trend_detected"  # no effect planted on revenue
    family = trends[(trends["dimension"] != "overall") & trends["p_value"].notna()]
    for _, rows in family.groupby(["experiment_id", "metric", "arm"]):
        np.testing.assert_allclose(rows["p_value_adj"], multipletests(rows["p_value"], method="holm")[1], rtol=1e-12)


def test_report_shows_lift_over_time_and_the_alerts(schedule, chromium, tmp_path):  # noqa: F811 (a fixture)
    """The report's monitoring section on the database after the day-28 build: one chart per metric × arm with the
    confidence sequence band over the four run dates, the latest run's sequence, the alerts; rendered by Chromium
    without console errors and with every image decoded."""
    database = schedule["day28"]["database"]
    page = write_report(database, tmp_path / "report.html")
    html = page.read_text(encoding="utf-8")
    found = parse(html).experiments["exp_a"]
    assert "monitoring" in found and found["monitoring"] == []  # nothing missing, nothing empty
    start = html.index('data-section="monitoring"')
    block = html[start : html.index('data-section="segments"', start)]
    assert block.count('alt="Lift over run dates:') == 2  # conversion and revenue, treatment vs control
    lifts = schedule["day28"]["tables"]["hte_segment_lifts"]
    overall = lifts[(lifts["dimension"] == "overall") & (lifts["metric"] == "conversion")].iloc[0]
    assert interval(overall["lift_abs_cs_low"], overall["lift_abs_cs_high"]) in block
    alerts = schedule["day28"]["tables"]["hte_alerts"]
    assert 'data-alerts="exp_a"' in block and len(alerts) > 0
    assert block.count("check started alerting") == (alerts["alert_type"] == "check_started_alerting").sum()
    assert "verdict disappeared" in block
    assert "decreasing" in block  # the cohort trend of the planted decline
    dom, images, console, _ = render(chromium, page, tmp_path)
    assert console == []
    assert images and set(images) == {"1"}
    # a database without the monitoring tables says so instead of failing
    bare = tmp_path / "bare.duckdb"
    with duckdb.connect(str(bare)) as con:
        con.execute(f"attach '{database}' as src (read_only)")
        con.execute("create table main.hte_segment_lifts as select * from src.main.hte_segment_lifts")
    found = parse(build_report(DuckDBReader(bare))).experiments["exp_a"]
    assert found["monitoring"] == [
        "data-missing:hte_lift_history",
        "data-missing:hte_alerts",
        "data-missing:hte_cohort_trends",
    ]


LEARNER_MODELS = [
    "hte_learner_evaluation",
    "hte_lift_history",
    "hte_check_history",
    "hte_learner_history",
    "hte_alerts",
]


def test_learner_choice_change_is_an_alert(demo_build, tmp_path):
    """Two nightly runs on a copy of the demo warehouse; before the second, the evaluation's choice for one
    comparison moves to another learner (as a refit on new data can): hte_alerts has exactly that change, with the
    learners before and after, and nothing else from the learners."""

    def run(name, run_date, source):
        workdir = tmp_path / name
        workdir.mkdir()
        shutil.copy(source, workdir / "hte.duckdb")
        result = run_dbt(["run", "--select", *LEARNER_MODELS], workdir, vars={"hte_run_date": run_date})
        assert result.ok, result.output[-4000:]
        return result

    first = run("first", "2099-02-01", demo_build.db_path)
    chosen = first.table("hte_learner_history")
    assert len(chosen) > 0 and not chosen.duplicated(["run_date", "experiment_id", "metric", "arm"]).any()
    evaluation = first.table("hte_learner_evaluation")
    ok = evaluation[evaluation["learner"].notna()]
    key = ok[ok["is_chosen"]].iloc[0]
    other = ok[
        (ok["experiment_id"] == key["experiment_id"])
        & (ok["metric"] == key["metric"])
        & (ok["arm"] == key["arm"])
        & ~ok["is_chosen"]
    ]["learner"].iloc[0]
    changed = tmp_path / "changed.duckdb"
    shutil.copy(first.db_path, changed)
    with duckdb.connect(str(changed)) as con:
        con.execute(
            "update int_hte_uplift_evaluation set is_chosen = (learner = ?) "
            "where part = 'learners' and experiment_id = ? and metric = ? and arm = ? and learner is not null",
            [other, key["experiment_id"], key["metric"], key["arm"]],
        )
    second = run("second", "2099-02-02", changed)
    alerts = second.table("hte_alerts")
    learner_rows = alerts[alerts["source"] == "learner"]
    assert len(learner_rows) == 1, learner_rows
    row = learner_rows.iloc[0]
    assert row["alert_type"] == "learner_choice_changed" and row["severity"] == "warn"
    assert (row["experiment_id"], row["metric"], row["arm"]) == (key["experiment_id"], key["metric"], key["arm"])
    assert (row["value_before"], row["value_after"]) == (key["learner"], other)
    assert str(row["previous_run_date"])[:10] == "2099-02-01"
    assert f"{key['learner']} -> {other}" in row["message"]
    history = second.table("hte_learner_history")
    assert set(history["run_date"].astype(str).str[:10]) >= {"2099-02-01", "2099-02-02"}


def test_learner_alerts_can_be_turned_off_and_the_var_is_checked(tmp_path):
    off = run_dbt(["compile", "--select", "hte_alerts"], tmp_path / "off", vars={"hte_alert_on_learner_choice": False})
    assert off.ok, off.output[-3000:]
    assert (
        "hte_learner_history"
        not in (tmp_path / "off" / "target" / "compiled")
        .joinpath("dbt_hte", "models", "monitoring", "hte_alerts.sql")
        .read_text()
    )
    bad = run_dbt(
        ["compile", "--select", "hte_alerts"], tmp_path / "bad", vars={"hte_alert_on_learner_choice": "maybe"}
    )
    assert not bad.ok
    assert "hte_alert_on_learner_choice" in bad.output and "true or false" in bad.output
