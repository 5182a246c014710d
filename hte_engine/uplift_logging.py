"""Progress lines for the uplift models: through dbt's adapter logger when dbt runs the model, else stdout."""

from __future__ import annotations


def progress(message: str) -> None:
    try:
        from dbt.adapters.events.logging import AdapterLogger
    except ImportError:  # the engine used on its own, without dbt installed
        print(f"dbt_hte {message}")
        return
    AdapterLogger("dbt_hte").info(message)
