"""Every SQL statement dbt ran, with its node and duration, read from dbt's debug log (logs/dbt.log).

run_results.json gives one time per node; a dbt_hte staging model runs validation queries while it compiles,
and int_hte_raw_cells one in its post-hook, so finding where a node's time goes needs the statements themselves.
dbt logs each one as "On <node id>: <sql>" (the SQL continues on the following lines) and then
"SQL status: <status> in <s> seconds" on the same thread.
"""

from __future__ import annotations

import re
from pathlib import Path

_RECORD = re.compile(r"^(?:\x1b\[\d+m)?\d\d:\d\d:\d\d\.\d+ \[\w+\s*\] \[(?P<thread>[^\]]+)\]: (?P<message>.*)$")
_STATEMENT = re.compile(r"^On (?P<node>(?:model|test|seed)\.\S+): (?P<sql>.*)$")
_STATUS = re.compile(r"^SQL status: .* in (?P<seconds>[\d.]+) seconds$")
_QUERY_COMMENT = re.compile(r"^\s*/\*.*?\*/\s*", re.DOTALL)


def query_timings(log: Path) -> list[dict]:
    """[{node, seconds, sql}] for every statement of a model or test, in log order."""
    pending: dict[str, dict] = {}
    last_thread = None
    timings = []
    for line in log.read_text(errors="replace").splitlines():
        record = _RECORD.match(line)
        if record is None:
            # a continuation line of the previous record's multi-line SQL
            if last_thread in pending:
                pending[last_thread]["sql"] += "\n" + line
            continue
        thread, message = record["thread"], record["message"]
        last_thread = thread
        if statement := _STATEMENT.match(message):
            pending[thread] = {"node": statement["node"], "sql": statement["sql"]}
        elif (status := _STATUS.match(message)) and thread in pending:
            query = pending.pop(thread)
            query["sql"] = _QUERY_COMMENT.sub("", query["sql"]).strip()
            timings.append({**query, "seconds": float(status["seconds"])})
    return timings
