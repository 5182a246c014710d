"""The report's sections, one function each: rows of one experiment in, an HTML <section> out.

A section whose table was not built says so (page.missing_table); one whose table has no rows for the experiment
says that too, with the reason the table gives when it has one. No section raises on a missing input.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from hte_engine.report import figures
from hte_engine.report.page import (
    badge,
    esc,
    interval,
    is_missing,
    missing_table,
    no_rows,
    num,
    number,
    pval,
    section,
    table,
    text,
)

# (key, title): the order of the sections within an experiment; tests check that every key is present.
SECTIONS = [
    ("checks", "Guardrail checks"),
    ("overall", "Overall effect"),
    ("monitoring", "Effects over time"),
    ("segments", "Segment lifts by dimension"),
    ("heterogeneity", "Heterogeneity tests"),
    ("uplift_curves", "Qini and uplift curves per learner"),
    ("calibration", "Calibration by decile"),
    ("discovered", "Discovered segments"),
    ("targeting", "Targeting: segment decisions"),
    ("budget_curve", "Budget curve"),
    ("policy_values", "Policy values"),
    ("population", "Deployment to the population"),
]
TITLES = dict(SECTIONS)

# The sentence under each section's title: what the section shows and how to read it.
LEADS = {
    "checks": (
        "Sample-ratio mismatch, covariate balance of pre-treatment dimensions and minimum sizes. An "
        "<b>alert</b> means the randomisation or the segment definitions are suspect: fix that before "
        "reading any lift."
    ),
    "overall": (
        "The average treatment effect of each arm against control: the pre-specified primary test, not "
        "adjusted for the segment tests."
    ),
    "segments": (
        "Per dimension, each segment's lift with its interval, most responsive on top. Green: positive, red: "
        "negative after the multiple-testing adjustment; grey: inconclusive (do not act on it); hollow: "
        "too small or not estimable. The dashed line is the overall effect. The plotted interval is adjusted for "
        "multiple testing like the verdict, so a grey bar always crosses zero (the table also lists the "
        "unadjusted one); under var hte_p_adjust: holm, whose step-down rejects more than the simultaneous "
        "interval shows, a coloured bar can still touch zero. Where a metric has a minimum effect worth acting on, "
        "the table's practical column says whether the lift is meaningful, negligible (real or not, too small to "
        "act on) or uncertain. Binary "
        "metrics are in percentage points (pp). Names longer than 40 characters are shortened in the plot "
        "(hover it for them) and whole in the table."
    ),
    "heterogeneity": (
        "Is there heterogeneity along a dimension at all? A small adjusted p-value says the segments of the "
        "dimension do not all share one lift; a large one says the differences between segments are "
        "compatible with chance."
    ),
    "uplift_curves": (
        "Units ranked by each learner's out-of-fold predicted effect. A curve above the straight line from 0 to "
        "its end value means the learner finds who responds. The chosen learner is drawn thicker, with its "
        "bootstrap band; the other learners' intervals are in the table."
    ),
    "calibration": (
        "The chosen learner's units in ten groups of predicted effect: when the model is calibrated, the "
        "observed lift of each group (treated minus control) sits on its mean prediction and falls from "
        "group 1 to group 10."
    ),
    "discovered": (
        "Segments found by a shallow tree grown on one half of the units and estimated on the other (honest): "
        "only rules marked significant after the adjustment are worth a pre-registered follow-up."
    ),
    "targeting": (
        "Whom to treat: each segment's lift, what one unit of the metric is worth, the cost of treating one "
        "unit, the lift needed to break even and the net value per treated unit with its interval. "
        "<b>treat</b>: the whole interval pays; <b>hold</b>: it does not; <b>need more data</b>: the interval "
        "crosses break-even or the segment is too small. The lift verdict column repeats the segment lifts' "
        "verdict: the two answer different questions (does the segment pay, under this dimension's "
        "adjustment; is its lift non-zero, under the family of segment tests of var hte_p_adjust_family) and "
        "can differ, which the reason then says."
    ),
    "budget_curve": (
        "Incremental net value (doubly robust, out of fold) as the budget grows, treating the units with the "
        "highest predicted net value first; the star is the deployed policy. Past the peak, each extra unit "
        "treated loses money."
    ),
    "policy_values": (
        "Each policy's incremental net value against treating nobody, with its interval: the deployed policy "
        "against treating everyone and against a random policy with the same budget."
    ),
    "population": (
        "What the deployed policy does to the population it acts on (var <code>hte_targeting_population</code>, "
        "latest run): how many units get each decision and why the others do not, and how far that population "
        "has moved from the experiment's units. Where a feature has <b>shifted</b> (PSI above 0.25), the "
        "experiment did not see people like these and their effects are extrapolated."
    ),
    "monitoring": (
        "Each scheduled build records the lifts of its run date (<code>hte_lift_history</code>). The shaded band "
        "is the confidence sequence: it covers the true lift at every run at once, so it may be read after every "
        "build; the fixed-horizon bars hold at one pre-planned look only, and a daily look at them finds "
        "significance in about a quarter of experiments without any effect."
    ),
}

# Tables each section reads, in order of preference (the report loads only these).
TABLES = [
    "hte_checks",
    "hte_segment_lifts",
    "hte_heterogeneity_tests",
    "hte_dimension_tests",
    "hte_uplift_curves",
    "hte_learner_evaluation",
    "hte_uplift_deciles",
    "hte_discovered_segments",
    "hte_targeting_segments",
    "hte_policy_value",
    "hte_lift_history",
    "hte_alerts",
    "hte_cohort_trends",
    "hte_population_decisions",
    "hte_population_drift",
]

NOT_A_VERDICT = {"inconclusive", "too_small", "not_estimable"}


def _is_binary(rows: pd.DataFrame, metric: str) -> bool:
    from hte_engine.report.summary import metric_kinds

    of = rows[rows["metric"] == metric]
    return not of.empty and metric_kinds(of).get(metric) == "binary"


def _lift_columns(rows: pd.DataFrame, adjusted_interval: bool) -> list:
    """Lift, interval(s) and practical verdict of hte_segment_lifts rows, in percentage points for binary metrics.

    The adjusted interval is adjusted like the verdict (issue 14; under Holm a rejected lift's may still touch
    zero, README "Reading a verdict"); the practical verdict is shown only when some metric has a minimum effect
    worth acting on."""
    binary = {m: _is_binary(rows, m) for m in rows["metric"].unique()}

    def scaled(r, column):
        value = r.get(column)
        return value * 100.0 if binary[r["metric"]] and not is_missing(value) else value

    def unit(r):
        return " pp" if binary[r["metric"]] else ""

    columns = [
        ("lift", "num", lambda r: num(scaled(r, "lift_abs")) + unit(r)),
        ("interval", "num", lambda r: interval(scaled(r, "lift_abs_ci_low"), scaled(r, "lift_abs_ci_high"))),
    ]
    if adjusted_interval and "lift_abs_ci_low_adj" in rows:
        columns.append(
            (
                "adjusted interval",
                "num",
                lambda r: interval(scaled(r, "lift_abs_ci_low_adj"), scaled(r, "lift_abs_ci_high_adj")),
            )
        )
    if "practical_verdict" in rows and rows["practical_verdict"].notna().any():
        columns.append(("practical", "text", lambda r: badge(r.get("practical_verdict"))))
    return columns


def rows_of(tables: dict[str, pd.DataFrame | None], name: str, experiment_id: str) -> pd.DataFrame | None:
    frame = tables.get(name)
    if frame is None:
        return None
    return frame[frame["experiment_id"].astype(str) == experiment_id]


def comparisons(rows: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(metric, arm, rows) groups, in a stable order; tables without a metric or arm column form one group."""
    keys = [k for k in ("metric", "arm") if k in rows.columns]
    if not keys:
        return [("", "", rows)]
    groups = []
    for values, group in rows.groupby(keys, sort=True, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        named = dict(zip(keys, values))
        groups.append((str(named.get("metric", "")), str(named.get("arm", "")), group))
    return groups


def heading(metric: str, arm: str, control: str | None = None) -> str:
    against = f" vs {control}" if control else ""
    return f"<h4>{esc(metric)} — {esc(arm)}{esc(against)}</h4>"


def control_of(rows: pd.DataFrame) -> str | None:
    if "control_arm" in rows and rows["control_arm"].notna().any():
        return str(rows["control_arm"].dropna().iloc[0])
    return None


def per_comparison(
    name: str,
    rows: pd.DataFrame | None,
    experiment_id: str,
    render: Callable[[str, str, pd.DataFrame], str],
    why: str = "",
) -> str:
    if rows is None:
        return missing_table(name)
    if rows.empty:
        return no_rows(name, experiment_id, why)
    return "".join(heading(m, a, control_of(g)) + render(m, a, g) for m, a, g in comparisons(rows))


def report_section(key: str, body: str) -> str:
    """Section `key` with its title and its lead."""
    return section(key, TITLES[key], LEADS[key], body)


def checks(tables, experiment_id: str) -> str:
    rows = rows_of(tables, "hte_checks", experiment_id)
    if rows is None:
        return report_section("checks", missing_table("hte_checks"))
    if rows.empty:
        return report_section("checks", no_rows("hte_checks", experiment_id))
    order = {"alert": 0, "pass": 1, "info": 2}
    rows = rows.assign(_order=rows["status"].map(order).fillna(3)).sort_values(
        ["_order", "check_name", "dimension", "segment"], na_position="first"
    )
    counts = rows["status"].value_counts()
    summary = ", ".join(f"{badge(s)} {int(counts[s])}" for s in ("alert", "pass", "info") if s in counts)
    alerts = rows[rows["status"] == "alert"]
    # Passing checks are folded away so the first screen reaches the effect; alerts stay in sight.
    body = f"<p>{summary}</p>" + (_checks_table(alerts) if not alerts.empty else "<p>No check alerts.</p>")
    body += f"<details><summary>all {len(rows)} checks</summary>{_checks_table(rows)}</details>"
    return report_section("checks", body)


def _checks_table(rows: pd.DataFrame) -> str:
    return table(
        rows,
        [
            ("check", "text", text("check_name")),
            ("dimension", "text", text("dimension")),
            ("segment", "text", text("segment")),
            ("statistic", "num", number("statistic")),
            ("p-value", "num", lambda r: pval(r["p_value"])),
            ("status", "text", lambda r: badge(r["status"])),
            ("message", "text", text("message")),
        ],
        muted=lambda r: r["status"] == "info",
    )


def overall(tables, experiment_id: str) -> str:
    rows = rows_of(tables, "hte_segment_lifts", experiment_id)
    if rows is not None:
        rows = rows[rows["dimension"] == "overall"]
    if rows is None:
        body = missing_table("hte_segment_lifts")
    elif rows.empty:
        body = no_rows("hte_segment_lifts", experiment_id, "the experiment has no metric with outcome rows")
    else:
        body = table(
            rows.sort_values(["metric", "arm"]),
            [
                ("metric", "text", text("metric")),
                ("arm", "text", text("arm")),
                ("control", "text", text("control_arm")),
                ("n treatment / control", "num", lambda r: f"{num(r['n_treatment'], 9)} / {num(r['n_control'], 9)}"),
                ("mean control", "num", number("mean_control")),
                ("mean treatment", "num", number("mean_treatment")),
                *_lift_columns(rows, adjusted_interval=False),
                (
                    "relative lift",
                    "num",
                    lambda r: "–" if is_missing(r["lift_rel"]) else f"{100 * r['lift_rel']:+.1f}%",
                ),
                ("CUPED lift", "num", lambda r: num(r.get("lift_cuped"))),
                ("p-value", "num", lambda r: pval(r["p_value"])),
                ("verdict", "text", lambda r: badge(r["verdict"])),
            ],
            muted=lambda r: r["verdict"] in NOT_A_VERDICT,
        )
    return report_section("overall", body)


def segments(tables, experiment_id: str) -> str:
    rows = rows_of(tables, "hte_segment_lifts", experiment_id)

    def render(metric: str, arm: str, group: pd.DataFrame) -> str:
        segment_rows = group[group["dimension"] != "overall"]
        if segment_rows.empty:
            return no_rows("hte_segment_lifts", experiment_id, f"no segment rows for {metric} / {arm}")
        ate = group.loc[group["dimension"] == "overall", "lift_abs"]
        image = figures.forest_plot(
            segment_rows,
            float(ate.iloc[0]) if len(ate) else None,
            f"{experiment_id}: {metric}, {arm}",
            binary=_is_binary(group, metric),
        )
        detail = table(
            segment_rows.sort_values(["dimension", "lift_abs"], ascending=[True, False]),
            [
                ("dimension", "text", text("dimension")),
                ("segment", "text", text("segment")),
                ("n treatment / control", "num", lambda r: f"{num(r['n_treatment'], 9)} / {num(r['n_control'], 9)}"),
                *_lift_columns(segment_rows, adjusted_interval=True),
                ("adjusted p", "num", lambda r: pval(r["p_value_adj"])),
                ("verdict", "text", lambda r: badge(r["verdict"])),
            ],
            muted=lambda r: r["verdict"] in NOT_A_VERDICT,
        )
        return image + f"<details><summary>table</summary>{detail}</details>"

    body = per_comparison("hte_segment_lifts", rows, experiment_id, render)
    return report_section("segments", body)


def heterogeneity(tables, experiment_id: str) -> str:
    name = "hte_heterogeneity_tests"
    rows = rows_of(tables, name, experiment_id)
    note = ""
    if rows is None and tables.get("hte_dimension_tests") is not None:
        name = "hte_dimension_tests"
        rows = rows_of(tables, name, experiment_id)
        note = (
            '<p class="missing" data-missing="hte_heterogeneity_tests">Table '
            "<code>hte_heterogeneity_tests</code> (the Wald tests of the interaction regressions, a Python "
            "model) was not built; shown instead: Cochran's Q from <code>hte_dimension_tests</code>.</p>"
        )
    alpha = _alpha(tables, experiment_id)

    def render(metric: str, arm: str, group: pd.DataFrame) -> str:
        group = group.sort_values(["dimension", "test"])
        return table(
            group,
            [
                ("dimension", "text", text("dimension")),
                ("test", "text", text("test")),
                ("statistic", "num", number("statistic")),
                ("df", "num", number("df", 9)),
                ("p-value", "num", lambda r: pval(r["p_value"])),
                ("adjusted p", "num", lambda r: pval(r["p_value_adj"])),
                ("reading", "text", lambda r: badge(_heterogeneity_reading(r, alpha))),
            ],
            muted=lambda r: _heterogeneity_reading(r, alpha) != "heterogeneous",
        )

    body = note + per_comparison(name, rows, experiment_id, render)
    return report_section("heterogeneity", body)


def _alpha(tables, experiment_id: str) -> float:
    lifts = rows_of(tables, "hte_segment_lifts", experiment_id)
    if lifts is not None and "alpha" in lifts and lifts["alpha"].notna().any():
        return float(lifts["alpha"].dropna().iloc[0])
    return 0.05


def _heterogeneity_reading(row: pd.Series, alpha: float) -> str:
    if row.get("status") not in (None, "ok") and not is_missing(row.get("status")):
        return str(row["status"])
    if is_missing(row.get("p_value_adj")):
        return "not_estimable"
    return "heterogeneous" if float(row["p_value_adj"]) < alpha else "no evidence"


def _status_reason(tables, experiment_id: str) -> str:
    evaluation = rows_of(tables, "hte_learner_evaluation", experiment_id)
    if evaluation is None or evaluation.empty or "reason" not in evaluation:
        return ""
    reasons = evaluation.loc[evaluation["status"] != "ok", "reason"].dropna().unique()
    return "; ".join(str(r) for r in reasons)


def uplift_curves(tables, experiment_id: str) -> str:
    rows = rows_of(tables, "hte_uplift_curves", experiment_id)
    evaluation = rows_of(tables, "hte_learner_evaluation", experiment_id)

    def render(metric: str, arm: str, group: pd.DataFrame) -> str:
        out = figures.uplift_curves(group, f"{experiment_id}: {metric}, {arm}", metric)
        if evaluation is not None:
            scores = evaluation[
                (evaluation["metric"] == metric) & (evaluation["arm"] == arm) & evaluation["learner"].notna()
            ]
            if not scores.empty:
                out += table(
                    scores.sort_values("learner"),
                    [
                        ("learner", "text", text("learner")),
                        ("Qini coefficient", "num", number("qini_coefficient", 3)),
                        (
                            "interval",
                            "num",
                            lambda r: interval(r["qini_coefficient_ci_low"], r["qini_coefficient_ci_high"]),
                        ),
                        ("AUUC", "num", number("auuc", 3)),
                        ("chosen", "text", lambda r: badge("chosen") if bool(r["is_chosen"]) else ""),
                    ],
                )
                reasons = scores["choice_reason"].dropna().unique() if "choice_reason" in scores else []
                out += "".join(f'<p class="lead">{esc(r)}</p>' for r in reasons[:1])
        return out

    body = per_comparison("hte_uplift_curves", rows, experiment_id, render, _status_reason(tables, experiment_id))
    return report_section("uplift_curves", body)


def calibration(tables, experiment_id: str) -> str:
    rows = rows_of(tables, "hte_uplift_deciles", experiment_id)

    def render(metric: str, arm: str, group: pd.DataFrame) -> str:
        chosen = group[group["is_chosen"].fillna(False).astype(bool)] if "is_chosen" in group else group.iloc[0:0]
        learner = (chosen if not chosen.empty else group)["learner"].iloc[0]
        group = group[group["learner"] == learner]
        image = figures.calibration_plot(group, f"{experiment_id}: {metric}, {arm} (learner {learner})")
        detail = table(
            group.sort_values("decile"),
            [
                ("group", "num", number("decile")),
                ("units", "num", number("n_units", 9)),
                ("mean predicted", "num", number("mean_predicted")),
                ("observed lift", "num", number("observed_lift")),
                ("interval", "num", lambda r: interval(r["observed_lift_ci_low"], r["observed_lift_ci_high"])),
            ],
        )
        return image + f"<details><summary>table</summary>{detail}</details>"

    body = per_comparison("hte_uplift_deciles", rows, experiment_id, render, _status_reason(tables, experiment_id))
    return report_section("calibration", body)


def discovered(tables, experiment_id: str) -> str:
    rows = rows_of(tables, "hte_discovered_segments", experiment_id)

    def render(metric: str, arm: str, group: pd.DataFrame) -> str:
        return table(
            group.sort_values("effect", ascending=False, na_position="last"),
            [
                ("rule", "text", text("rule")),
                ("units", "num", number("n_units", 9)),
                ("effect", "num", number("effect")),
                ("interval", "num", lambda r: interval(r["effect_ci_low"], r["effect_ci_high"])),
                ("adjusted p", "num", lambda r: pval(r["p_value_adj"])),
                ("status", "text", lambda r: badge(r["status"])),
                ("reason", "text", text("reason")),
            ],
            muted=lambda r: r["status"] != "significant",
        )

    body = per_comparison("hte_discovered_segments", rows, experiment_id, render)
    return report_section("discovered", body)


def _lift_verdicts(tables, experiment_id: str) -> dict[tuple, str]:
    """(metric, arm, dimension, segment) -> the segment lift's verdict of hte_segment_lifts."""
    lifts = rows_of(tables, "hte_segment_lifts", experiment_id)
    if lifts is None or lifts.empty:
        return {}
    keys = zip(
        lifts["metric"].astype(str),
        lifts["arm"].astype(str),
        lifts["dimension"].astype(str),
        lifts["segment"].astype(str),
    )
    return dict(zip(keys, lifts["verdict"].astype(str)))


def targeting_agreement(decision, verdict) -> str:
    """Why a segment decision and the segment's lift verdict may differ, in words (empty when they agree)."""
    if is_missing(verdict) or decision != "treat" or verdict not in NOT_A_VERDICT:
        return ""
    return (
        "treated on economics: the net value's interval (adjusted over this dimension's segments) pays, while "
        f"the lift alone is {verdict} after the segment lifts' multiple-testing adjustment (its family: var "
        "hte_p_adjust_family)"
    )


def value_per_unit(row) -> str:
    """The worth of one unit of lift: the experiment's benefit_per_unit, or, when the benefit is a per-unit column
    (lift_unit 'money: <metric> x <column> of each unit'), that column: the lift is then already money and the
    stored benefit of 1 would read as 'one unit of the metric is worth 1'."""
    unit = row.get("lift_unit")
    if isinstance(unit, str) and unit.startswith("money: ") and " x " in unit:
        return esc(unit.split(" x ", 1)[1] + " (lift already in money)")
    return num(row["benefit_per_unit"])


def targeting(tables, experiment_id: str) -> str:
    rows = rows_of(tables, "hte_targeting_segments", experiment_id)
    verdicts = _lift_verdicts(tables, experiment_id)

    def render(metric: str, arm: str, group: pd.DataFrame) -> str:
        group = group.assign(
            lift_verdict=[
                verdicts.get((metric, arm, str(d), str(s))) for d, s in zip(group["dimension"], group["segment"])
            ]
        )
        order = group.assign(_overall=group["dimension"] != "overall").sort_values(
            ["_overall", "dimension", "net_value"], ascending=[True, True, False]
        )
        units = group["lift_unit"].dropna().unique() if "lift_unit" in group else []
        unit = f'<p class="lead">Lift and break-even lift count {esc(units[0])}.</p>' if len(units) == 1 else ""
        return unit + table(
            order,
            [
                ("dimension", "text", text("dimension")),
                ("segment", "text", text("segment")),
                ("n treatment / control", "num", lambda r: f"{num(r['n_treatment'], 9)} / {num(r['n_control'], 9)}"),
                ("lift", "num", number("lift_abs")),
                ("interval", "num", lambda r: interval(r["lift_ci_low"], r["lift_ci_high"])),
                ("value per unit", "num", value_per_unit),
                ("cost per treated", "num", number("cost_per_treated")),
                ("break-even lift", "num", number("break_even_lift")),
                ("net value per treated", "num", number("net_value")),
                ("interval", "num", lambda r: interval(r["net_value_ci_low"], r["net_value_ci_high"])),
                ("decision", "text", lambda r: badge(r["decision"])),
                ("lift verdict", "text", lambda r: badge(r["lift_verdict"])),
                (
                    "reason",
                    "text",
                    lambda r: (
                        esc(
                            "; ".join(
                                part
                                for part in (
                                    "" if is_missing(r["reason"]) else str(r["reason"]),
                                    targeting_agreement(r["decision"], r["lift_verdict"]),
                                )
                                if part
                            )
                        )
                        or "–"
                    ),
                ),
            ],
            muted=lambda r: r["decision"] == "need more data",
        )

    body = per_comparison("hte_targeting_segments", rows, experiment_id, render)
    return report_section("targeting", body)


def _true(value) -> bool:
    return not is_missing(value) and bool(value)


def _policy_rows(tables, experiment_id: str) -> pd.DataFrame | None:
    return rows_of(tables, "hte_policy_value", experiment_id)


def budget_curve(tables, experiment_id: str) -> str:
    rows = _policy_rows(tables, experiment_id)
    if rows is None:
        body = missing_table("hte_policy_value")
    else:
        curve = rows[rows["policy"] == "budget_curve"]
        markers = rows[(rows["policy"] != "budget_curve") & rows["policy_kind"].isin(["policy", "treat_all"])]
        body = (
            no_rows("hte_policy_value", experiment_id, "no budget_curve rows")
            if curve.empty
            else figures.budget_curve(curve, markers, experiment_id)
        )
    return report_section("budget_curve", body)


def policy_values(tables, experiment_id: str) -> str:
    rows = _policy_rows(tables, experiment_id)
    if rows is None:
        body = missing_table("hte_policy_value")
    else:
        policies = rows[rows["policy"] != "budget_curve"]
        if policies.empty:
            body = no_rows("hte_policy_value", experiment_id)
        else:
            body = figures.policy_values(policies, experiment_id) + table(
                policies.sort_values("value", ascending=False),
                [
                    ("policy", "text", text("policy")),
                    ("value", "num", number("value")),
                    ("interval", "num", lambda r: interval(r["ci_low"], r["ci_high"])),
                    ("treated", "num", number("n_treated", 9)),
                    ("cost", "num", number("cost")),
                    ("vs treat all", "num", lambda r: num(r.get("difference_vs_treat_all"))),
                    (
                        "interval",
                        "num",
                        lambda r: interval(
                            r.get("difference_vs_treat_all_ci_low"), r.get("difference_vs_treat_all_ci_high")
                        ),
                    ),
                    ("vs random", "num", lambda r: num(r.get("difference_vs_random"))),
                    ("deployed", "text", lambda r: badge("deployed") if _true(r.get("is_deployed")) else ""),
                ],
            )
    return report_section("policy_values", body)


def population(tables, experiment_id: str) -> str:
    decisions = rows_of(tables, "hte_population_decisions", experiment_id)
    drift = rows_of(tables, "hte_population_drift", experiment_id)
    if decisions is None:
        return report_section("population", missing_table("hte_population_decisions"))
    if decisions.empty:
        return report_section(
            "population",
            (
                '<p class="empty" data-empty="hte_population_decisions">No population decided for this experiment: set '
                "var <code>hte_targeting_population</code> (docs/population.md) to score the customers the policy will "
                "act on, under eligibility rules, contact limits and a holdout; experiments without economics get no "
                "decisions.</p>"
            ),
        )
    latest = decisions[decisions["run_date"].astype(str) == decisions["run_date"].astype(str).max()]
    total = float(latest["n_units"].sum())
    parts = [
        f"<h4>Decisions on {num(total, 9)} units (run {esc(str(latest['run_date'].iloc[0])[:10])})</h4>"
        + table(
            latest.sort_values(["decision", "n_units"], ascending=[True, False]),
            [
                ("decision", "text", lambda r: badge(r["decision"])),
                ("reason", "text", text("reason_code")),
                ("policy-test group", "text", text("holdout_group")),
                ("arm given", "text", text("chosen_arm")),
                ("units", "num", number("n_units", 9)),
                ("share", "num", lambda r: f"{100.0 * float(r['n_units']) / total:.1f}%" if total else "–"),
                ("expected net value", "num", number("expected_net_value")),
                ("expected cost", "num", number("expected_cost")),
            ],
        )
    ]
    if drift is None:
        parts.append("<h4>Drift from the experiment</h4>" + missing_table("hte_population_drift"))
    elif not drift.empty:
        shown = drift[drift["run_date"].astype(str) == drift["run_date"].astype(str).max()]
        parts.append(
            "<h4>Drift from the experiment</h4>"
            + table(
                shown.sort_values(["kind", "feature"]),
                [
                    ("feature", "text", text("feature")),
                    ("kind", "text", text("kind")),
                    ("PSI", "num", number("psi")),
                    ("status", "text", lambda r: badge(r["psi_status"])),
                    ("missing: experiment", "num", number("experiment_missing_share")),
                    ("missing: population", "num", number("population_missing_share")),
                    ("outside support", "num", number("population_outside_support_share")),
                    ("eligible", "num", number("eligibility_rate")),
                    ("frequency-capped", "num", number("frequency_capped_rate")),
                ],
                muted=lambda r: r["psi_status"] in ("stable", "not_computed"),
            )
        )
    return report_section("population", "".join(parts))


def _not_built(name: str) -> str:
    # The monitoring tables are SQL models, but incremental ones exist only on adapters with delete+insert
    # (models/monitoring/monitoring.yml), and every one only after a successful build.
    return (
        f'<p class="missing" data-missing="{esc(name)}">Table <code>{esc(name)}</code> was not built, so this '
        "part has nothing to show. The monitoring models (docs/monitoring.md) are built by <code>dbt build</code> "
        "on DuckDB, PostgreSQL, Redshift and Snowflake; the cohort models on every adapter.</p>"
    )


ALERT_LABELS = {
    "verdict_appeared": "verdict appeared",
    "verdict_disappeared": "verdict disappeared",
    "verdict_flipped": "verdict flipped sign",
    "check_started_alerting": "check started alerting",
    "check_stopped_alerting": "check stopped alerting",
}


def monitoring(tables, experiment_id: str) -> str:
    """The overall lift of each metric × arm over run dates with its confidence sequence, what changed since the
    previous run (hte_alerts), and trends across assignment cohorts (hte_cohort_trends)."""
    parts = []
    history = rows_of(tables, "hte_lift_history", experiment_id)
    if history is None:
        parts.append(_not_built("hte_lift_history"))
    elif history.empty:
        parts.append(no_rows("hte_lift_history", experiment_id, "no run recorded yet"))
    else:
        overall_rows = history[history["dimension"] == "overall"]
        dates = pd.to_datetime(overall_rows["run_date"])
        latest = overall_rows[dates == dates.max()]
        for metric, arm, group in comparisons(overall_rows):
            runs = group["run_date"].nunique()
            note = "" if runs > 1 else " (one run so far)"
            parts.append(
                heading(metric, arm, control_of(group))
                + (f"<p>{esc(note.strip())}</p>" if note else "")
                + figures.lift_over_time(group, f"{metric}: {arm} vs {control_of(group) or 'control'}")
            )
        parts.append(
            "<h4>Latest run</h4>"
            + table(
                latest.sort_values(["metric", "arm"]),
                [
                    ("run date", "text", lambda r: esc(str(r["run_date"])[:10])),
                    ("metric", "text", text("metric")),
                    ("arm", "text", text("arm")),
                    ("lift", "num", number("lift_abs")),
                    ("fixed interval", "num", lambda r: interval(r["lift_abs_ci_low"], r["lift_abs_ci_high"])),
                    ("confidence sequence", "num", lambda r: interval(r["lift_abs_cs_low"], r["lift_abs_cs_high"])),
                    ("p (fixed)", "num", lambda r: pval(r["p_value"])),
                    ("p (sequential)", "num", lambda r: pval(r["p_value_sequential"])),
                    ("verdict (fixed)", "text", lambda r: badge(r["verdict_fixed"])),
                    ("verdict (sequential)", "text", lambda r: badge(r["verdict_sequential"])),
                ],
                muted=lambda r: r["verdict_sequential"] in NOT_A_VERDICT,
            )
        )
    alerts = rows_of(tables, "hte_alerts", experiment_id)
    if alerts is None:
        parts.append("<h4>Alerts</h4>" + _not_built("hte_alerts"))
    elif alerts.empty:
        parts.append(
            '<h4>Alerts</h4><p class="empty" data-empty="hte_alerts">No change since the previous run '
            "(or no previous run to compare with).</p>"
        )
    else:
        parts.append(
            '<h4>Alerts</h4><div data-alerts="'
            + esc(experiment_id)
            + '">'
            + table(
                alerts.sort_values(["alert_type", "source", "metric", "dimension", "segment"], na_position="first"),
                [
                    ("run date", "text", lambda r: esc(str(r["run_date"])[:10])),
                    ("since", "text", lambda r: esc(str(r["previous_run_date"])[:10])),
                    ("change", "text", lambda r: esc(ALERT_LABELS.get(r["alert_type"], r["alert_type"]))),
                    ("before", "text", lambda r: esc("(none)" if is_missing(r["value_before"]) else r["value_before"])),
                    ("after", "text", lambda r: esc("(none)" if is_missing(r["value_after"]) else r["value_after"])),
                    ("what", "text", text("message")),
                ],
            )
            + "</div>"
        )
    trends = rows_of(tables, "hte_cohort_trends", experiment_id)
    if trends is None:
        parts.append("<h4>Trend across assignment cohorts</h4>" + _not_built("hte_cohort_trends"))
    elif not trends.empty:
        shown = trends[(trends["dimension"] == "overall") | trends["verdict"].isin(["increasing", "decreasing"])]
        parts.append(
            "<h4>Trend across assignment cohorts</h4>"
            + table(
                shown.sort_values(["metric", "arm", "dimension", "segment"]),
                [
                    ("metric", "text", text("metric")),
                    ("arm", "text", text("arm")),
                    (
                        "segment",
                        "text",
                        lambda r: esc(
                            "overall" if r["dimension"] == "overall" else f"{r['dimension']} = {r['segment']}"
                        ),
                    ),
                    ("cohorts", "num", number("n_cohorts_in_trend", 9)),
                    ("slope per week", "num", number("slope")),
                    ("interval", "num", lambda r: interval(r["slope_ci_low"], r["slope_ci_high"])),
                    ("p (adjusted)", "num", lambda r: pval(r["p_value_adj"])),
                    ("trend", "text", lambda r: esc(str(r["verdict"]).replace("_", " "))),
                ],
                muted=lambda r: r["verdict"] not in ("increasing", "decreasing"),
            )
        )
    return report_section("monitoring", "".join(parts))


RENDERERS = {
    "checks": checks,
    "overall": overall,
    "monitoring": monitoring,
    "segments": segments,
    "heterogeneity": heterogeneity,
    "uplift_curves": uplift_curves,
    "calibration": calibration,
    "discovered": discovered,
    "targeting": targeting,
    "budget_curve": budget_curve,
    "policy_values": policy_values,
    "population": population,
}
