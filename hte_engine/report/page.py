"""HTML building blocks of the report: escaped tables, number formats, the page shell with its inline CSS."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

import pandas as pd

CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #24292f; margin: 0;
       background: #f6f8fa; line-height: 1.45; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
header { background: #24292f; color: #fff; padding: 20px 24px; }
header h1 { margin: 0 0 4px 0; font-size: 24px; }
header p { margin: 0; color: #d0d7de; font-size: 13px; }
nav { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 16px; margin-bottom: 20px; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; }
section.experiment { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 4px 20px 16px;
                     margin-bottom: 28px; }
section.report-section { border-top: 1px solid #eaeef2; padding-top: 6px; }
h2 { font-size: 20px; } h3 { font-size: 16px; margin-bottom: 6px; } h4 { font-size: 14px; margin: 12px 0 4px; }
p.lead { color: #57606a; font-size: 13px; margin-top: 0; }
p.missing, p.empty { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 8px 12px; }
table { border-collapse: collapse; font-size: 12.5px; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid #eaeef2; padding: 3px 8px; text-align: right; vertical-align: top; }
th { background: #f6f8fa; } td.text, th.text { text-align: left; }
tr.muted td { color: #8c959f; }
.badge { display: inline-block; border-radius: 10px; padding: 0 7px; font-size: 11.5px; font-weight: 600; }
.badge.good { background: #dafbe1; color: #1a7f37; } .badge.bad { background: #ffebe9; color: #cf222e; }
.badge.neutral { background: #eaeef2; color: #57606a; } .badge.warn { background: #fff8c5; color: #9a6700; }
img.figure { max-width: 100%; display: block; margin: 6px 0 12px; }
details summary { cursor: pointer; color: #0969da; font-size: 13px; }
"""

GOOD = {"positive", "pass", "treat", "significant", "ok", "heterogeneous", "stable"}
BAD = {"negative", "alert", "hold", "shifted"}
WARN = {"need more data", "too_small", "info", "moderate_shift"}


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def is_missing(value) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def num(value, digits: int = 4) -> str:
    if is_missing(value):
        return "–"
    value = float(value)
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if abs(value) >= 1000:  # money and counts: thousands separators, never scientific notation
        return f"{value:,.0f}"
    return f"{value:,.{digits}g}"


def pval(value) -> str:
    if is_missing(value):
        return "–"
    return "< 1e-6" if float(value) < 1e-6 else f"{float(value):.2g}"


def interval(low, high, digits: int = 3) -> str:
    if is_missing(low) or is_missing(high):
        return "–"
    return f"[{num(low, digits)}, {num(high, digits)}]"


def badge(value) -> str:
    if is_missing(value):
        return "–"
    text = str(value)
    kind = "good" if text in GOOD else "bad" if text in BAD else "warn" if text in WARN else "neutral"
    return f'<span class="badge {kind}">{esc(text)}</span>'


Column = tuple[str, str, Callable[[pd.Series], str]]


def text(column: str) -> Callable[[pd.Series], str]:
    return lambda row: "–" if is_missing(row.get(column)) else esc(row.get(column))


def number(column: str, digits: int = 4) -> Callable[[pd.Series], str]:
    """A table cell showing a row's ``column`` as ``num`` writes it (``digits`` significant digits)."""
    return lambda row: num(row[column], digits)


def table(
    rows: pd.DataFrame, columns: Sequence[Column], muted: Callable[[pd.Series], bool] | None = None, css_class: str = ""
) -> str:
    """An HTML table; each column is (header, 'text' or 'num' alignment, cell renderer returning safe HTML)."""
    head = "".join(f'<th class="{kind}">{esc(label)}</th>' for label, kind, _ in columns)
    body = []
    for _, row in rows.iterrows():
        row_class = ' class="muted"' if muted is not None and muted(row) else ""
        cells = "".join(f'<td class="{kind}">{render(row)}</td>' for _, kind, render in columns)
        body.append(f"<tr{row_class}>{cells}</tr>")
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def section(key: str, title: str, lead: str, body: str) -> str:
    return (
        f'<section class="report-section" data-section="{esc(key)}"><h3>{esc(title)}</h3>'
        f'<p class="lead">{lead}</p>{body}</section>'
    )


def missing_table(name: str) -> str:
    return (
        f'<p class="missing" data-missing="{esc(name)}">Table <code>{esc(name)}</code> was not built, so this '
        "section has nothing to show. It is a dbt Python model: it exists only on adapters that run Python "
        "models (DuckDB, Databricks, Snowflake, BigQuery) after a successful <code>dbt build</code>.</p>"
    )


def no_rows(name: str, experiment_id: str, why: str = "") -> str:
    return (
        f'<p class="empty" data-empty="{esc(name)}">No rows of <code>{esc(name)}</code> for experiment '
        f"<code>{esc(experiment_id)}</code>{'.' if not why else ': ' + esc(why)}</p>"
    )


def document(title: str, subtitle: str, nav: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{subtitle}</p></header>"
        f"<main><nav>{nav}</nav>{body}</main></body></html>\n"
    )
