"""progress(message): a line in dbt's log (console and logs/dbt.log) from inside a dbt Python model.

dbt-duckdb runs Python models inside the dbt process, so an event fired through dbt's adapter logger reaches
dbt's own console output and logs/dbt.log, with a timestamp, like any dbt line. The alternatives do not:
print() goes to the raw console only (no timestamp, not in logs/dbt.log), and Python's `logging` has no handler
in a dbt run, so INFO records are dropped. Outside dbt (the engine used on its own, in tests) the line goes to
stderr, so library output never mixes with a caller's stdout.

Call it at the steps a user waits on: `progress(f"uplift: experiment '{e}', metric '{m}': fold {k} of {K}, "
f"learner {name}, {n_rows:,} training rows")`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

PREFIX = "dbt_hte"

# What a long-running engine function takes as its ``log``: ``progress`` in a dbt model, a list's ``append`` in a test.
Log = Callable[[str], None]


def progress(message: str) -> None:
    try:
        from dbt.adapters.events.logging import AdapterLogger
    except ImportError:  # the engine without dbt installed
        print(f"{PREFIX}: {message}", file=sys.stderr, flush=True)
        return
    # AdapterLogger prints as "<name> adapter: <message>"; its events are INFO, shown by default.
    AdapterLogger(PREFIX).info(message)
