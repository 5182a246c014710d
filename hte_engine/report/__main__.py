"""`python -m hte_engine.report <duckdb file> -o report.html`: the HTML report of a dbt_hte build."""

from __future__ import annotations

import argparse
import sys

from hte_engine.report import write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hte_engine.report", description=__doc__)
    parser.add_argument("database", help="the DuckDB file dbt built (e.g. target/dbt_hte.duckdb)")
    parser.add_argument("-o", "--output", default="report.html", help="HTML file to write (default report.html)")
    parser.add_argument(
        "--schema", default=None, help="schema holding the dbt_hte outputs (default: the one with hte_segment_lifts)"
    )
    args = parser.parse_args(argv)
    try:
        path = write_report(args.database, args.output, args.schema)
    except (FileNotFoundError, ValueError) as error:
        print(error, file=sys.stderr)
        return 1
    print(f"dbt_hte report written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
