"""Whether a warehouse's dbt_hte outputs all come from one dbt run (table dbt_hte_build_log, written by the
on-run-end hook macros/monitoring/hte_record_build.sql).

When a model fails, dbt skips everything downstream of it, and those tables keep the previous run's rows beside
the tables the run rebuilt. `stale_outputs` says so in one sentence, which the report and the summary print at
the top (the Parquet export logs the same warning from SQL: macro hte_export_parquet).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["BUILD_LOG", "stale_outputs"]

BUILD_LOG = "dbt_hte_build_log"


def stale_outputs(log: pd.DataFrame | None) -> str | None:
    """None when the latest run rebuilt every dbt_hte model it ran (or there is no log: built before the hook
    existed, or on an adapter it does not write); else the sentence naming what it did not rebuild and since when
    those tables date."""
    if log is None or log.empty:
        return None
    log = log.assign(run_started_at=pd.to_datetime(log["run_started_at"]))
    latest_start = log["run_started_at"].max()
    latest = log[log["run_started_at"] == latest_start]
    invocation = str(latest["invocation_id"].iloc[-1])
    latest = latest[latest["invocation_id"].astype(str) == invocation]
    not_rebuilt = latest[latest["status"].astype(str) != "success"].sort_values("model")
    if not_rebuilt.empty:
        return None
    rebuilt = log[(log["status"].astype(str) == "success") & (log["run_started_at"] < latest_start)]
    last_good = rebuilt.groupby("model")["run_started_at"].max()

    def dated(row) -> str:
        when = last_good.get(row["model"])
        since = f"last built {when:%Y-%m-%d %H:%M} UTC" if when is not None and pd.notna(when) else "never built"
        return f"{row['model']} ({row['status']}, {since})"

    failed = not_rebuilt[not_rebuilt["status"].astype(str) == "error"]["model"].tolist()
    cause = f"; it failed at {', '.join(failed)}" if failed else ""
    return (
        f"Outputs from different runs: the dbt run of {latest_start:%Y-%m-%d %H:%M} UTC (invocation "
        f"{invocation}) did not rebuild {len(not_rebuilt)} of its {len(latest)} dbt_hte models{cause}. These "
        f"tables hold an earlier run's rows, or none: {'; '.join(dated(r) for _, r in not_rebuilt.iterrows())}. "
        "The other tables are from this run. Fix the failure and run dbt build again."
    )
