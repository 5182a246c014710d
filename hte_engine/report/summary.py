"""A short readable summary of a built dbt_hte DuckDB database: `python -m hte_engine.report.summary <path.duckdb>`.

Per experiment × metric × treatment arm: the overall effect with its interval, then the most and the least
responsive segments among those large enough to be tested, and any guardrail alert. It reads only the output
tables, so it shows exactly what a BI tool would.

Each segment's interval is the one that matches its verdict: the multiplicity-adjusted interval
(`lift_abs_ci_low_adj` / `_high_adj`) where the table has it, so an `inconclusive` segment never shows an interval
that excludes zero. Binary metrics are in percentage points. Where the metric has a minimum effect worth acting on,
the practical verdict follows the statistical one.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from hte_engine.report.freshness import BUILD_LOG, stale_outputs

TOP = 3


def _interval(row: pd.Series) -> tuple[float, float, bool]:
    """The interval that matches the fixed-horizon verdict: adjusted when the table has it, else the plain one."""
    low, high = row.get("lift_abs_ci_low_adj"), row.get("lift_abs_ci_high_adj")
    if low is not None and high is not None and pd.notna(low) and pd.notna(high):
        return float(low), float(high), True
    return float(row.lift_abs_ci_low), float(row.lift_abs_ci_high), False


def _format_lift(row: pd.Series, kind: str, mark_adjusted: bool = False) -> str:
    scale, unit = (100.0, " pp") if kind == "binary" else (1.0, "")
    low, high, adjusted = _interval(row)
    note = " adj." if adjusted and mark_adjusted else ""
    return f"{row.lift_abs * scale:+.2f}{unit} [{low * scale:+.2f}, {high * scale:+.2f}]{note}"


def _verdicts(row: pd.Series) -> str:
    """The verdict the interval matches (verdict_fixed when `verdict` comes from the confidence sequence), then the
    sequential one if it is the basis, then the practical verdict where a threshold is set."""
    parts = []
    if row.get("verdict_basis") == "sequential" and "verdict_fixed" in row:
        parts += [str(row.get("verdict_fixed")), f"sequential: {row.verdict}"]
    else:
        parts.append(str(row.verdict))
    practical = row.get("practical_verdict")
    if practical is not None and pd.notna(practical):
        parts.append(f"practically {str(practical).replace('_', ' ')}")
    return "; ".join(parts)


def _metric_kind(lifts: pd.DataFrame) -> dict[str, str]:
    # A metric whose arm means all lie in [0, 1] and whose stats came from 0/1 values reads best in points.
    kinds = {}
    for metric, rows in lifts.groupby("metric"):
        means = pd.concat([rows.mean_treatment, rows.mean_control])
        kinds[metric] = "binary" if means.between(0, 1).all() else "continuous"
    return kinds


# The report reads metric kinds the same way (percentage points for binary metrics).
metric_kinds = _metric_kind


def summarize(lifts: pd.DataFrame, checks: pd.DataFrame | None = None) -> str:
    lines: list[str] = []
    kinds = _metric_kind(lifts)
    for (experiment, metric, arm), rows in lifts.groupby(["experiment_id", "metric", "arm"], sort=True):
        overall = rows[rows.dimension == "overall"].iloc[0]
        kind = kinds[metric]
        lines.append(f"{experiment} · {metric} · {arm} vs {overall.control_arm}")
        lines.append(
            f"  overall effect   {_format_lift(overall, kind)}  ({_verdicts(overall)}, "
            f"n = {int(overall.n_treatment):,} vs {int(overall.n_control):,})"
        )
        segments = rows[
            (rows.dimension != "overall") & (rows.verdict != "too_small") & rows.lift_abs.notna()
        ].sort_values("lift_abs", ascending=False)
        if segments.empty:
            lines.append("  no segment is large enough to test")
        else:
            for label, picked in (
                ("most responsive ", segments.head(TOP)),
                ("least responsive", segments.tail(TOP).iloc[::-1]),
            ):
                for i, seg in enumerate(picked.itertuples(index=False)):
                    row = pd.Series(seg._asdict())
                    lines.append(
                        f"  {label if i == 0 else ' ' * len(label)} {seg.dimension} = {seg.segment}: "
                        f"{_format_lift(row, kind, mark_adjusted=True)}  ({_verdicts(row)})"
                    )
        lines.append("")
    if "lift_abs_ci_low_adj" in lifts:
        lines.append(
            "segment intervals marked adj. are adjusted for multiple testing like their verdicts "
            "(var hte_p_adjust): one that excludes 0 always has a positive or negative verdict; Holm's "
            "step-down can also call a lift whose adj. interval touches 0; binary metrics in percentage "
            "points (pp)"
        )
        lines.append("")
    if checks is not None and not checks.empty:
        alerts = checks[checks.status == "alert"]
        lines.append(f"guardrails: {len(alerts)} alert(s) in hte_checks" + ("" if alerts.empty else ":"))
        for alert in alerts.itertuples():
            lines.append(f"  {alert.experiment_id} · {alert.check_name}: {alert.message}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m hte_engine.report.summary", description=__doc__.splitlines()[0])
    parser.add_argument("database", help="the DuckDB file dbt built (e.g. target/dbt_hte.duckdb)")
    parser.add_argument(
        "--schema", default=None, help="schema holding the dbt_hte outputs (default: the one with hte_segment_lifts)"
    )
    args = parser.parse_args(argv[1:])
    from hte_engine.report.reader import DuckDBReader  # imports DuckDB: the engine installs without it

    try:
        reader = DuckDBReader(args.database, args.schema)
    except (FileNotFoundError, ValueError) as error:
        print(error, file=sys.stderr)
        return 1
    try:
        lifts, checks, log = (reader.table(name) for name in ("hte_segment_lifts", "hte_checks", BUILD_LOG))
    finally:
        reader.close()
    if lifts is None:
        print(
            f"dbt_hte: no hte_segment_lifts in schema {reader.schema} of {args.database}: run `dbt build` first.",
            file=sys.stderr,
        )
        return 1
    stale = stale_outputs(log)
    if stale:
        print(f"WARNING: {stale}\n")
    print(summarize(lifts, checks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
