"""A short readable summary of a built dbt_hte DuckDB database: `python -m hte_engine.summary <path.duckdb>`.

Per experiment × metric × treatment arm: the overall effect with its interval, then the most and the least
responsive segments among those large enough to be tested, and any guardrail alert. It reads only the output
tables, so it shows exactly what a BI tool would.
"""

from __future__ import annotations

import sys

import duckdb
import pandas as pd

TOP = 3


def _format_lift(row: pd.Series, kind: str) -> str:
    scale, unit = (100.0, " pp") if kind == "binary" else (1.0, "")
    return (f"{row.lift_abs * scale:+.2f}{unit} [{row.lift_abs_ci_low * scale:+.2f}, "
            f"{row.lift_abs_ci_high * scale:+.2f}]")


def _metric_kind(lifts: pd.DataFrame) -> dict[str, str]:
    # A metric whose arm means all lie in [0, 1] and whose stats came from 0/1 values reads best in points.
    kinds = {}
    for metric, rows in lifts.groupby("metric"):
        means = pd.concat([rows.mean_treatment, rows.mean_control])
        kinds[metric] = "binary" if means.between(0, 1).all() else "continuous"
    return kinds


def summarize(lifts: pd.DataFrame, checks: pd.DataFrame | None = None) -> str:
    lines: list[str] = []
    kinds = _metric_kind(lifts)
    for (experiment, metric, arm), rows in lifts.groupby(["experiment_id", "metric", "arm"], sort=True):
        overall = rows[rows.dimension == "overall"].iloc[0]
        kind = kinds[metric]
        lines.append(f"{experiment} · {metric} · {arm} vs {overall.control_arm}")
        lines.append(f"  overall effect   {_format_lift(overall, kind)}  ({overall.verdict}, "
                     f"n = {int(overall.n_treatment):,} vs {int(overall.n_control):,})")
        segments = rows[(rows.dimension != "overall") & (rows.verdict != "too_small")
                        & rows.lift_abs.notna()].sort_values("lift_abs", ascending=False)
        if segments.empty:
            lines.append("  no segment is large enough to test")
        else:
            for label, picked in (("most responsive ", segments.head(TOP)),
                                  ("least responsive", segments.tail(TOP).iloc[::-1])):
                for i, seg in enumerate(picked.itertuples()):
                    lines.append(f"  {label if i == 0 else ' ' * len(label)} {seg.dimension} = {seg.segment}: "
                                 f"{_format_lift(pd.Series(seg._asdict()), kind)}  ({seg.verdict})")
        lines.append("")
    if checks is not None and not checks.empty:
        alerts = checks[checks.status == "alert"]
        lines.append(f"guardrails: {len(alerts)} alert(s) in hte_checks"
                     + ("" if alerts.empty else ":"))
        for alert in alerts.itertuples():
            lines.append(f"  {alert.experiment_id} · {alert.check_name}: {alert.message}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m hte_engine.summary <path to the dbt_hte DuckDB file>", file=sys.stderr)
        return 2
    with duckdb.connect(argv[1], read_only=True) as con:
        lifts = con.execute("select * from hte_segment_lifts").df()
        tables = {row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()}
        checks = con.execute("select * from hte_checks").df() if "hte_checks" in tables else None
    print(summarize(lifts, checks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
