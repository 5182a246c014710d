"""A single self-contained HTML report of dbt_hte's output tables (`python -m hte_engine.report <duckdb> -o f.html`).

`build_report(reader)` returns the HTML; `reader` is any object with `table(name) -> DataFrame | None`
(reader.DuckDBReader for a DuckDB file, reader.DbApiReader for any DB-API connection).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from hte_engine.report import sections
from hte_engine.report.freshness import BUILD_LOG, stale_outputs
from hte_engine.report.page import document, esc
from hte_engine.report.reader import DbApiReader, DuckDBReader, TableReader

__all__ = ["DbApiReader", "DuckDBReader", "TableReader", "build_report", "load_tables", "write_report"]


def load_tables(reader: TableReader) -> dict[str, pd.DataFrame | None]:
    return {name: reader.table(name) for name in sections.TABLES}


def experiments(tables: dict[str, pd.DataFrame | None]) -> list[str]:
    ids: set[str] = set()
    for frame in tables.values():
        if frame is not None and "experiment_id" in frame:
            ids.update(frame["experiment_id"].dropna().astype(str))
    return sorted(ids)


def slug(experiment_id: str) -> str:
    return "exp-" + "".join(c if c.isalnum() else "-" for c in experiment_id)


def build_report(reader: TableReader, source: str = "", title: str = "dbt_hte report") -> str:
    tables = load_tables(reader)
    ids = experiments(tables)
    if not ids:
        raise ValueError(
            f"dbt_hte report: no dbt_hte output table with rows was found in {source or 'the source'}. Run "
            "`dbt build` first, and pass the schema dbt writes to (--schema) if it is not the default."
        )
    missing = [name for name, frame in tables.items() if frame is None]
    built = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = f"{esc(source)} · generated {built} · {len(ids)} experiment{'s' if len(ids) > 1 else ''}"
    if missing:
        subtitle += " · not built: " + ", ".join(f"<code>{esc(m)}</code>" for m in missing)
    nav = "".join(f'<a href="#{slug(e)}">{esc(e)}</a>' for e in ids)
    stale = stale_outputs(reader.table(BUILD_LOG))
    warning = (
        f'<div class="stale-outputs" role="alert" style="border:2px solid #b00020;padding:0.6em 1em;'
        f'margin:1em 0;background:#fff4f4"><strong>Warning.</strong> {esc(stale)}</div>'
        if stale
        else ""
    )
    body = warning + "".join(
        f'<section class="experiment" id="{slug(e)}" data-experiment="{esc(e)}"><h2>Experiment {esc(e)}</h2>'
        + "".join(sections.RENDERERS[key](tables, e) for key, _ in sections.SECTIONS)
        + "</section>"
        for e in ids
    )
    return document(title, subtitle, nav, body)


def write_report(database: str | Path, output: str | Path, schema: str | None = None) -> Path:
    """Write the report of the DuckDB file `database` to `output` (written whole, then renamed into place);
    `schema` None: the schema that holds the outputs (DuckDBReader)."""
    reader = DuckDBReader(database, schema)
    try:
        page = build_report(reader, source=str(database))
    finally:
        reader.close()
    output = Path(output)
    temporary = output.with_name(f".{output.name}.tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(output)
    return output
