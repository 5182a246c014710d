"""hte_engine.progress: a Python model's progress line reaches dbt's event stream (console and logs/dbt.log)."""

from __future__ import annotations

from dbt_common.events.event_manager_client import add_callback_to_manager, get_event_manager

from hte_engine.progress import progress


def test_progress_fires_a_dbt_info_event():
    seen = []
    callback = seen.append
    add_callback_to_manager(callback)
    try:
        progress("uplift: experiment 'coupon_push', fold 2 of 5, learner x, 12,800 rows")
    finally:
        get_event_manager().callbacks.remove(callback)
    lines = [(e.info.level, e.info.msg) for e in seen]
    assert ("info", "dbt_hte adapter: uplift: experiment 'coupon_push', fold 2 of 5, learner x, 12,800 rows") in lines
