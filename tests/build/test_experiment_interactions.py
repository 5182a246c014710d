"""hte_experiment_interactions and hte_interaction_checks (issue 17): interactions between overlapping experiments.

Sources of truth and tolerances:
- every lift, interaction, standard error, interval and p-value against a closed form computed in pandas on the
  unit rows (Welch, ddof 1): 1e-9 relative (atol 1e-12 for p-values: the SQL chi-square is accurate to 1e-12
  absolute, macros/stats/hte_chi2_pvalues.sql); counts, labels and the overlap period exactly;
- the interaction and its standard error against statsmodels OLS of the saturated model y ~ arm × other_arm with
  HC2 errors (for cell means HC2 is exactly s²/n per cell, the Welch variance), and Cochran's Q against the
  model's Wald statistic for "all interactions are 0" (Q is that Wald test for independent lifts), its p-value
  against scipy.stats.chi2.sf: 1e-9 relative;
- the adjustment against statsmodels multipletests over the one family: 1e-9 relative;
- a simulation (2,000 null data sets of 20,000 shared units, Python on the same formulas, checked equal to the SQL
  on the fixture build) shows the family-wise false-alert rate is at most alpha, and that without the adjustment it
  would not be; another (300 data sets) finds the planted interaction; the fixture build finds it in SQL.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import yaml
from scipy import stats
from statsmodels.stats.multitest import multipletests

import reference as ref
from dbt_runner import REPO
from fixtures import build_fixture, valid_inputs
from interaction_inputs import overlap_inputs

ALPHA = 0.05
MIN_SIZE = 100
ALERT_P = 0.001
KEYS = ["experiment_id", "other_experiment_id", "metric", "arm", "other_arm"]
FLOAT = (1e-9, 1e-12)
P_VALUE = (1e-9, 1e-12)
SELECT = "+hte_checks"  # hte_checks unions the rows of hte_interaction_checks


@pytest.fixture(scope="module")
def overlap_build(tmp_path_factory):
    frames = overlap_inputs()
    result = build_fixture(tmp_path_factory.mktemp("interactions"), frames, select=SELECT)
    assert result.ok, result.output[-6000:]
    return frames, result


# ------------------------------------------------------------------------------------------ pandas reference
def shared_units(frames: dict[str, pd.DataFrame]) -> dict[tuple[str, str], pd.DataFrame]:
    """Per ordered pair of experiments with overlapping assignment periods: the units assigned in both."""
    a = frames["assignments"]
    periods = a.groupby("experiment_id")["assigned_at"].agg(["min", "max"])
    pairs = {}
    for e in periods.index:
        for f in periods.index:
            if e == f or not (
                periods.at[e, "min"] <= periods.at[f, "max"] and periods.at[f, "min"] <= periods.at[e, "max"]
            ):
                continue
            both = a[a.experiment_id == e][["unit_id", "arm"]].merge(
                a[a.experiment_id == f][["unit_id", "arm"]].rename(columns={"arm": "other_arm"}), on="unit_id"
            )
            if len(both):
                both.attrs["overlap"] = (
                    max(periods.at[e, "min"], periods.at[f, "min"]),
                    min(periods.at[e, "max"], periods.at[f, "max"]),
                )
                pairs[e, f] = both
    return pairs


def unit_rows(frames, pair, shared, metric) -> pd.DataFrame:
    """Shared units with experiment_id's outcome for `metric`; a unit without an outcome row has 0."""
    o = frames["outcomes"]
    values = o[(o.experiment_id == pair[0]) & (o.metric == metric)][["unit_id", "value"]]
    rows = shared.merge(values, on="unit_id", how="left")
    rows["value"] = rows["value"].fillna(0.0)
    return rows


def reference_interactions(frames, *, alpha=ALPHA, min_size=MIN_SIZE, method="holm") -> pd.DataFrame:
    e = frames["experiments"]
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for pair, shared in shared_units(frames).items():
        exp, other = pair
        control = e[(e.experiment_id == exp) & e.is_control].arm.iloc[0]
        other_control = e[(e.experiment_id == other) & e.is_control].arm.iloc[0]
        other_arms = list(e[e.experiment_id == other].arm)
        for metric in sorted(frames["outcomes"].loc[frames["outcomes"].experiment_id == exp, "metric"].unique()):
            y = unit_rows(frames, pair, shared, metric)
            for arm in e[(e.experiment_id == exp) & ~e.is_control].arm:
                cells = {}
                for f in other_arms:
                    t = y[(y.arm == arm) & (y.other_arm == f)].value
                    c = y[(y.arm == control) & (y.other_arm == f)].value
                    se = np.sqrt(t.var(ddof=1) / len(t) + c.var(ddof=1) / len(c))
                    cells[f] = dict(
                        n_treatment=len(t),
                        n_control=len(c),
                        mean_treatment=t.mean(),
                        mean_control=c.mean(),
                        lift_abs=t.mean() - c.mean(),
                        lift_abs_se=se,
                    )
                too_small = min(min(v["n_treatment"], v["n_control"]) for v in cells.values()) < min_size
                lifts = np.array([cells[f]["lift_abs"] for f in other_arms])
                w = 1 / np.array([cells[f]["lift_abs_se"] for f in other_arms]) ** 2
                pooled = (w * lifts).sum() / w.sum()
                q = (w * (lifts - pooled) ** 2).sum()
                for f in other_arms:
                    cell = cells[f]
                    base = cells[other_control]
                    inter = cell["lift_abs"] - base["lift_abs"] if f != other_control else np.nan
                    inter_se = (
                        np.sqrt(cell["lift_abs_se"] ** 2 + base["lift_abs_se"] ** 2) if f != other_control else np.nan
                    )
                    rows.append(
                        dict(
                            experiment_id=exp,
                            other_experiment_id=other,
                            metric=metric,
                            arm=arm,
                            other_arm=f,
                            control_arm=control,
                            other_control_arm=other_control,
                            n_overlap=len(shared),
                            overlap_start=shared.attrs["overlap"][0],
                            overlap_end=shared.attrs["overlap"][1],
                            **cell,
                            lift_abs_ci_low=cell["lift_abs"] - z * cell["lift_abs_se"],
                            lift_abs_ci_high=cell["lift_abs"] + z * cell["lift_abs_se"],
                            lift_p_value=np.nan
                            if too_small
                            else 2 * stats.norm.sf(abs(cell["lift_abs"] / cell["lift_abs_se"])),
                            interaction=inter,
                            interaction_se=inter_se,
                            interaction_ci_low=inter - z * inter_se,
                            interaction_ci_high=inter + z * inter_se,
                            interaction_p_value=np.nan if too_small else 2 * stats.norm.sf(abs(inter / inter_se)),
                            status="too_small" if too_small else "ok",
                            statistic=np.nan if too_small else q,
                            df=np.nan if too_small else len(other_arms) - 1,
                            p_value=np.nan if too_small else stats.chi2.sf(q, len(other_arms) - 1),
                            pooled_lift=np.nan if too_small else pooled,
                            n_other_arms=np.nan if too_small else len(other_arms),
                        )
                    )
    out = pd.DataFrame(rows)
    tested = out.drop_duplicates(["experiment_id", "other_experiment_id", "metric", "arm"]).dropna(subset=["p_value"])
    tested = tested.assign(
        p_value_adj=multipletests(tested.p_value, method=ref.P_ADJUST_METHODS[method])[1], family_size=len(tested)
    )
    out = out.merge(
        tested[["experiment_id", "other_experiment_id", "metric", "arm", "p_value_adj", "family_size"]],
        on=["experiment_id", "other_experiment_id", "metric", "arm"],
        how="left",
    )
    out["i_squared"] = np.where(
        out.statistic > out.df, (out.statistic - out.df) / out.statistic, np.where(out.statistic.notna(), 0.0, np.nan)
    )
    out["verdict"] = np.where(
        out.status != "ok", out.status, np.where(out.p_value_adj < alpha, "interaction", "no_evidence")
    )
    return out


COLUMNS = {
    "control_arm": None,
    "other_control_arm": None,
    "n_overlap": None,
    "overlap_start": None,
    "overlap_end": None,
    "n_treatment": None,
    "n_control": None,
    "status": None,
    "verdict": None,
    "df": None,
    "n_other_arms": None,
    "family_size": None,
    "mean_treatment": FLOAT,
    "mean_control": FLOAT,
    "lift_abs": FLOAT,
    "lift_abs_se": FLOAT,
    "lift_abs_ci_low": FLOAT,
    "lift_abs_ci_high": FLOAT,
    "lift_p_value": P_VALUE,
    "interaction": FLOAT,
    "interaction_se": FLOAT,
    "interaction_ci_low": FLOAT,
    "interaction_ci_high": FLOAT,
    "interaction_p_value": P_VALUE,
    "statistic": FLOAT,
    "p_value": P_VALUE,
    "p_value_adj": P_VALUE,
    "pooled_lift": FLOAT,
    "i_squared": FLOAT,
}


def test_interactions_match_the_pandas_reference(overlap_build):
    frames, result = overlap_build
    actual = result.table("hte_experiment_interactions")
    expected = reference_interactions(frames)
    problems = ref.compare(actual, expected, KEYS, COLUMNS, label="hte_experiment_interactions")
    assert not problems, "\n".join(problems)
    # not vacuous: the pairs the inputs were built to exercise are all there, and only they
    pairs = set(map(tuple, actual[["experiment_id", "other_experiment_id"]].drop_duplicates().to_numpy()))
    assert pairs == {("exp_a", "exp_b"), ("exp_b", "exp_a"), ("exp_a", "exp_d"), ("exp_d", "exp_a")}
    # only units in both experiments: exp_b's first 5% are exp_a-only, its last 5% exp_b-only
    assert set(
        actual.loc[
            actual.experiment_id.isin(["exp_a", "exp_b"]) & actual.other_experiment_id.isin(["exp_a", "exp_b"]),
            "n_overlap",
        ]
    ) == {38_000}
    assert (actual.status == "ok").sum() > 0 and (actual.status == "too_small").sum() > 0


def test_interaction_and_q_equal_statsmodels_saturated_ols_hc2(overlap_build):
    """OLS of y on arm × other_arm (both with their control as reference) on the shared units: the interaction
    coefficients are the interactions, their HC2 errors the Welch errors, and the HC2 Wald statistic of 'every
    interaction of this arm is 0' is Cochran's Q."""
    frames, result = overlap_build
    actual = result.table("hte_experiment_interactions")
    shared = shared_units(frames)
    checked = 0
    for (exp, other, metric, arm), rows in actual[actual.status == "ok"].groupby(
        ["experiment_id", "other_experiment_id", "metric", "arm"]
    ):
        control, other_control = rows.control_arm.iloc[0], rows.other_control_arm.iloc[0]
        y = unit_rows(frames, (exp, other), shared[exp, other], metric)
        y = y[y.arm.isin([arm, control])]
        fit = smf.ols(
            f"value ~ C(arm, Treatment('{control}')) * C(other_arm, Treatment('{other_control}'))", data=y
        ).fit(cov_type="HC2")
        names = []
        for row in rows[rows.other_arm != other_control].itertuples():
            name = (
                f"C(arm, Treatment('{control}'))[T.{arm}]:C(other_arm, Treatment('{other_control}'))[T.{row.other_arm}]"
            )
            assert row.interaction == pytest.approx(fit.params[name], rel=1e-9, abs=1e-12)
            assert row.interaction_se == pytest.approx(fit.bse[name], rel=1e-9)
            names.append(name)
        wald = fit.wald_test(" = 0, ".join(names) + " = 0", scalar=True)
        assert rows.statistic.iloc[0] == pytest.approx(float(wald.statistic), rel=1e-9)
        assert rows.p_value.iloc[0] == pytest.approx(
            stats.chi2.sf(float(wald.statistic), len(names)), rel=1e-9, abs=1e-12
        )
        checked += 1
    assert checked == 6  # exp_a|exp_b: 2 metrics x 1 arm; exp_b|exp_a: 2 metrics x 2 arms


def test_two_arm_q_is_the_squared_interaction_z(overlap_build):
    """Against a two-arm other experiment, Q = (interaction / se)², so its p-value is the interaction's."""
    _, result = overlap_build
    rows = result.table("hte_experiment_interactions")
    rows = rows[(rows.status == "ok") & (rows.df == 1) & rows.interaction.notna()]
    assert len(rows) == 4
    np.testing.assert_allclose(rows.statistic, (rows.interaction / rows.interaction_se) ** 2, rtol=1e-9)
    np.testing.assert_allclose(rows.p_value, rows.interaction_p_value, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", ["bh", "bonferroni"])
def test_adjustment_follows_hte_p_adjust(overlap_build, method, tmp_path):
    """Holm is checked above; the other two methods on the same data, the family still one over all pairs."""
    frames, _ = overlap_build
    result = build_fixture(tmp_path, frames, select=SELECT, vars={"hte_p_adjust": method})
    assert result.ok, result.output[-4000:]
    problems = ref.compare(
        result.table("hte_experiment_interactions"),
        reference_interactions(frames, method=method),
        KEYS,
        {"p_value_adj": P_VALUE, "family_size": None, "verdict": None},
        label=f"hte_experiment_interactions ({method})",
    )
    assert not problems, "\n".join(problems)


def test_planted_interaction_alerts_and_the_null_metric_does_not(overlap_build):
    _, result = overlap_build
    table = result.table("hte_experiment_interactions")
    comparisons = table.drop_duplicates(["experiment_id", "other_experiment_id", "metric", "arm"]).set_index(
        ["experiment_id", "other_experiment_id", "metric", "arm"]
    )
    # planted: exp_a's treatment lifts conversion by 0.05 more within variant_1 (and variant_1's lift by 0.05 more
    # under exp_a's treatment); the interval of the estimate covers it
    planted = table[
        (table.experiment_id == "exp_a") & (table.metric == "conversion") & (table.other_arm == "variant_1")
    ].iloc[0]
    assert planted.interaction_ci_low < 0.05 < planted.interaction_ci_high
    assert comparisons.loc[("exp_a", "exp_b", "conversion", "treatment"), "p_value_adj"] < ALERT_P
    assert comparisons.loc[("exp_b", "exp_a", "conversion", "variant_1"), "verdict"] == "interaction"
    # revenue has additive effects only
    assert (comparisons.xs("revenue", level="metric").dropna(subset=["p_value_adj"]).p_value_adj > ALPHA).all()

    checks = result.table("hte_interaction_checks").set_index(["experiment_id", "dimension"])
    assert checks.loc[("exp_a", "exp_b"), "status"] == "alert"
    assert checks.loc[("exp_a", "exp_b"), "severity"] == "warn"
    assert (
        checks.loc[("exp_a", "exp_b"), "p_value"]
        == comparisons.loc[("exp_a", "exp_b", "conversion", "treatment"), "p_value_adj"]
    )
    assert "decide the two launches together" in checks.loc[("exp_a", "exp_b"), "message"]
    assert checks.loc[("exp_b", "exp_a"), "status"] == "alert"
    assert "variant_1 on conversion" in checks.loc[("exp_b", "exp_a"), "message"]
    # too small: a status and an explanation, never a test
    assert checks.loc[("exp_a", "exp_d"), "status"] == "info" and pd.isna(checks.loc[("exp_a", "exp_d"), "p_value"])
    assert set(checks.index) == {("exp_a", "exp_b"), ("exp_b", "exp_a"), ("exp_a", "exp_d"), ("exp_d", "exp_a")}
    assert set(checks.check_name) == {"experiment_interaction"} and (checks.threshold == ALERT_P).all()
    small = table[table.status == "too_small"]
    assert small.p_value.isna().all() and small.interaction_p_value.isna().all() and small.lift_p_value.isna().all()
    assert small.reason.str.contains("fewer than hte_min_segment_size").all()
    assert (table[table.status == "ok"].family_size == 6).all()


def test_check_columns_are_hte_checks_columns(overlap_build):
    """The check model's rows are union-ed into hte_checks: same columns, same order."""
    _, result = overlap_build
    checks_yml = yaml.safe_load((REPO / "models" / "marts" / "marts.yml").read_text())
    documented = [c["name"] for m in checks_yml["models"] if m["name"] == "hte_checks" for c in m["columns"]]
    assert list(result.table("hte_interaction_checks").columns) == documented


def test_hte_checks_holds_the_interaction_rows(overlap_build):
    """hte_checks carries every row of hte_interaction_checks unchanged (and the hte_checks_pass test sees alerts)."""
    _, result = overlap_build
    own = result.table("hte_interaction_checks")
    rows = result.table("hte_checks")
    rows = rows[rows.check_name == "experiment_interaction"]
    assert len(own) == 4
    problems = ref.compare(
        rows,
        own,
        ["experiment_id", "dimension"],
        {c: None for c in own.columns if c not in ("experiment_id", "dimension")},
        label="hte_checks",
    )
    assert not problems, "\n".join(problems)
    assert "hte_checks_pass" in result.output and "WARN" in result.output


# ------------------------------------------------------------------------------------------ empty and typed
def _types(result, table):
    return (
        result.query(
            f"select column_name, data_type from information_schema.columns "
            f"where table_name = '{table}' order by ordinal_position"
        )
        .to_records(index=False)
        .tolist()
    )


def test_no_overlap_gives_an_empty_typed_table(overlap_build, tmp_path):
    _, full = overlap_build
    result = build_fixture(tmp_path, valid_inputs(), select=SELECT)
    assert result.ok, result.output[-4000:]
    documented = yaml.safe_load((REPO / "models" / "marts" / "interactions.yml").read_text())["models"]
    for model in documented:
        table = result.table(model["name"])
        assert len(table) == 0, model["name"]
        assert list(table.columns) == [c["name"] for c in model["columns"]], model["name"]
        assert _types(result, model["name"]) == _types(full, model["name"]), model["name"]
    types = dict(_types(result, "hte_experiment_interactions"))
    assert types["p_value_adj"] == "DOUBLE" and types["n_overlap"] == "BIGINT" and types["overlap_start"] == "TIMESTAMP"


# ------------------------------------------------------------------------------------------ simulation
def cell_tests(n, s, s2):
    """The SQL's formulas on cell arrays (..., arms of the experiment, arms of the other; index 0 = controls):
    Welch lifts within each other arm, Cochran's Q across them, its chi-square p-value. Returns (Q, p)."""
    mean = s / n
    var_mean = (s2 - s * s / n) / (n - 1) / n
    lift = mean[..., 1:, :] - mean[..., :1, :]
    w = 1.0 / (var_mean[..., 1:, :] + var_mean[..., :1, :])
    pooled = (w * lift).sum(-1) / w.sum(-1)
    q = (w * (lift - pooled[..., None]) ** 2).sum(-1)
    return q, stats.chi2.sf(q, n.shape[-1] - 1)


def _cells(arm, other_arm, y, k, k_other):
    index = arm * k_other + other_arm
    size = k * k_other
    return tuple(np.bincount(index, weights=w, minlength=size).reshape(k, k_other) for w in (np.ones_like(y), y, y * y))


def test_simulation_formulas_equal_the_sql(overlap_build):
    """One SQL == Python check: cell_tests on the fixture's unit rows gives the SQL's Q and p-value."""
    frames, result = overlap_build
    table = result.table("hte_experiment_interactions")
    e = frames["experiments"]
    shared = shared_units(frames)
    for (exp, other, metric, arm), rows in table[table.status == "ok"].groupby(
        ["experiment_id", "other_experiment_id", "metric", "arm"]
    ):
        arms = [rows.control_arm.iloc[0], arm]
        others = [rows.other_control_arm.iloc[0]] + sorted(
            set(e[e.experiment_id == other].arm) - {rows.other_control_arm.iloc[0]}
        )
        y = unit_rows(frames, (exp, other), shared[exp, other], metric)
        y = y[y.arm.isin(arms)]
        n, s, s2 = _cells(
            y.arm.map(arms.index).to_numpy(),
            y.other_arm.map(others.index).to_numpy(),
            y.value.to_numpy(),
            2,
            len(others),
        )
        q, p = cell_tests(n, s, s2)
        assert q[0] == pytest.approx(rows.statistic.iloc[0], rel=1e-9)
        assert p[0] == pytest.approx(rows.p_value.iloc[0], rel=1e-9, abs=1e-12)


def _simulate(rng, n_units, interaction):
    """Two experiments on the same units (A: 2 arms, B: 3 arms), outcomes as in interaction_inputs; the p-values of
    the six comparisons: A within B and B within A, for both metrics."""
    a = (rng.random(n_units) < 0.5).astype(np.int64)
    b = rng.choice(3, p=[0.4, 0.3, 0.3], size=n_units)
    b1, b2 = (b == 1), (b == 2)
    conversion = (rng.random(n_units) < 0.20 + 0.03 * a + 0.02 * b1 + 0.01 * b2 + interaction * a * b1).astype(float)
    revenue = rng.gamma(2.0, 10.0, size=n_units) + 1.5 * a + 1.0 * b1
    p_values = []
    for y in (conversion, revenue):
        _, p = cell_tests(*_cells(a, b, y, 2, 3))  # A's treatment within B's arms: df 2
        p_values.append(p[0])
        n, s, s2 = _cells(b, a, y, 3, 2)  # B's variants within A's arms: df 1 each
        p_values.extend(cell_tests(n, s, s2)[1])
    return np.array(p_values)


@pytest.mark.slow
def test_simulation_family_wise_false_alert_rate_is_at_most_alpha():
    """2,000 data sets without interaction (20,000 units shared by both experiments, the fixture's effects without
    the planted interaction): the share with any adjusted p-value under alpha (what would alert at
    hte_check_alert_p = alpha) is at most alpha, up to 2.33 simulation standard errors (one-sided 1%); each raw
    test rejects about alpha of the time (the Q test is calibrated); without the adjustment the family would
    alert far more often than alpha, so the test can tell an adjusted family from an unadjusted one."""
    rng = np.random.default_rng(20261203)
    reps = 2000
    raw = np.array([_simulate(rng, 20_000, 0.0) for _ in range(reps)])
    with ref.without_gc_collect():
        adjusted = np.array([multipletests(p, method="holm")[1] for p in raw])
    margin = 2.33 * np.sqrt(ALPHA * (1 - ALPHA) / reps)
    family_wise = (adjusted < ALPHA).any(axis=1).mean()
    assert family_wise <= ALPHA + margin, family_wise
    per_test = (raw < ALPHA).mean(axis=0)
    assert np.all(np.abs(per_test - ALPHA) < 3 * np.sqrt(ALPHA * (1 - ALPHA) / reps)), per_test
    unadjusted = (raw < ALPHA).any(axis=1).mean()
    print(f"\nfamily-wise false-alert rate {family_wise:.4f} (Holm), {unadjusted:.4f} unadjusted; per test {per_test}")
    assert unadjusted > ALPHA + 3 * margin, unadjusted


@pytest.mark.slow
def test_simulation_finds_the_planted_interaction():
    """The planted 0.05 interaction (exp_a's treatment × variant_1 on conversion, 40,000 shared units): the
    comparison of exp_a within exp_b is called an interaction (adjusted p < alpha) in at least 80% of 300 data
    sets, and no null comparison (revenue) does more than alpha of the time."""
    rng = np.random.default_rng(17)
    raw = np.array([_simulate(rng, 40_000, 0.05) for _ in range(300)])
    with ref.without_gc_collect():
        adjusted = np.array([multipletests(p, method="holm")[1] for p in raw])
    print(
        f"\nplanted interaction found in {(adjusted[:, 0] < ALPHA).mean():.3f} of data sets "
        f"({(adjusted[:, 0] < ALERT_P).mean():.3f} at hte_check_alert_p)"
    )
    assert (adjusted[:, 0] < ALPHA).mean() >= 0.8
    assert ((adjusted[:, 3:] < ALPHA).any(axis=1)).mean() <= ALPHA + 2.33 * np.sqrt(ALPHA * (1 - ALPHA) / 300)
