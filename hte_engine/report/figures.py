"""The report's plots, drawn with matplotlib (Agg, no display) and returned as base64 PNG <img> tags.

Every function takes the rows of one experiment × metric × arm and returns an HTML string, so the page stays a
single file that opens without a network.
"""

from __future__ import annotations

import base64
import functools
import glob
import html
import io

import matplotlib
import matplotlib.dates

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen before pyplot is imported)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402

POSITIVE = "#1a7f37"
NEGATIVE = "#cf222e"
MUTED = "#9aa0a6"
ACCENT = "#0969da"
LEARNER_COLORS = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#57606a", "#cf222e"]

# Segments that must not be read as wins or losses are drawn in grey (DESIGN.md, honest heterogeneity).
VERDICT_COLORS = {"positive": POSITIVE, "negative": NEGATIVE}


def plain(label) -> str:
    # Matplotlib reads text between two "$" as math: a segment named "$5-$10" must print as written.
    return str(label).replace("$", r"\$")


# Longer segment and dimension names are cut in the plots: a 500-character name otherwise takes the figure's
# width and squashes every interval to a dot. The tables keep them whole, and the image's tooltip lists them.
LABEL_CHARS = 40


def short(label) -> str:
    text = str(label)
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


# Families tried in turn for each character (matplotlib falls back glyph by glyph along font.family): DejaVu Sans,
# bundled with matplotlib, for Latin text; Noto Sans CJK for Chinese, Japanese and Korean segment names; Symbola for
# emoji (monochrome: the Agg renderer cannot draw colour emoji). Without the last two such names come out as empty
# boxes. scripts/install_fonts.sh installs both on Debian; a family that is not installed is left out.
FALLBACK_FONTS = {"Noto Sans CJK JP": "NotoSansCJK-*.ttc", "Symbola": "Symbola*.ttf"}  # CJK: regular and bold
FONT_DIRECTORIES = ("/usr/share/fonts", "/usr/local/share/fonts")


def font_families() -> list[str]:
    """DejaVu Sans and the fallback families installed on this machine. A font installed after matplotlib built
    its font cache is registered from its file, so installing one does not need a cache rebuild."""
    known = {font.name for font in font_manager.fontManager.ttflist}
    families = ["DejaVu Sans"]
    for family, pattern in FALLBACK_FONTS.items():
        if family not in known:
            for directory in FONT_DIRECTORIES:
                for path in sorted(glob.glob(f"{directory}/**/{pattern}", recursive=True)):
                    font_manager.fontManager.addfont(path)
            known = {font.name for font in font_manager.fontManager.ttflist}
        if family in known:
            families.append(family)
    return families


def with_fallback_fonts(draw):
    """Build and render a figure with font_families() as font.family (text keeps the family it was created with,
    so both must happen inside)."""

    @functools.wraps(draw)
    def wrapped(*args, **kwargs):
        with plt.rc_context({"font.family": font_families()}):
            return draw(*args, **kwargs)

    return wrapped


def to_img(fig, alt: str, tooltip: str = "") -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    title = f' title="{html.escape(tooltip)}"' if tooltip else ""
    return f'<img class="figure" alt="{html.escape(alt)}"{title} src="data:image/png;base64,{data}">'


@with_fallback_fonts
def forest_plot(lifts: pd.DataFrame, overall_lift: float | None, title: str, binary: bool = False) -> str:
    """One panel per dimension: segment lifts with their intervals, most responsive on top.

    `lifts` holds hte_segment_lifts rows of one experiment × metric × arm (segment rows only). The interval drawn
    is the one that matches the verdict beside it: the multiplicity-adjusted one (`lift_abs_ci_low_adj`) when the
    table has it, so a grey "inconclusive" bar always crosses zero. Binary metrics are drawn in percentage points.
    """
    adjusted = {"lift_abs_ci_low_adj", "lift_abs_ci_high_adj"} <= set(lifts.columns)
    low_col, high_col = (
        ("lift_abs_ci_low_adj", "lift_abs_ci_high_adj") if adjusted else ("lift_abs_ci_low", "lift_abs_ci_high")
    )
    scale = 100.0 if binary else 1.0
    dimensions = sorted(lifts["dimension"].unique())
    heights = [max(len(lifts[lifts["dimension"] == d]), 1) for d in dimensions]
    fig, axes = plt.subplots(
        len(dimensions),
        1,
        figsize=(8.5, 0.9 + 0.38 * sum(heights) + 0.5 * len(dimensions)),
        gridspec_kw={"height_ratios": heights},
        sharex=True,
        squeeze=False,
    )
    for ax, dimension in zip(axes[:, 0], dimensions):
        rows = lifts[lifts["dimension"] == dimension].sort_values("lift_abs", ascending=True, na_position="first")
        y = np.arange(len(rows))
        for yi, (_, row) in zip(y, rows.iterrows()):
            verdict = str(row["verdict"])
            color = VERDICT_COLORS.get(verdict, MUTED)
            low, high = row[low_col], row[high_col]
            if pd.notna(low) and pd.notna(high):
                ax.plot([low * scale, high * scale], [yi, yi], color=color, linewidth=2.2, solid_capstyle="round")
            if pd.notna(row["lift_abs"]):
                hollow = verdict in ("too_small", "not_estimable")
                ax.plot(
                    row["lift_abs"] * scale,
                    yi,
                    "o",
                    color=color,
                    markersize=7,
                    markerfacecolor="white" if hollow else color,
                )
        labels = [
            f"{plain(short(s))}  (n={_count(t)}/{_count(c)})"
            for s, t, c in zip(rows["segment"], rows["n_treatment"], rows["n_control"])
        ]
        ax.set_yticks(y, labels, fontsize=9)
        for yi, verdict in zip(y, rows["verdict"]):
            ax.annotate(
                plain(verdict),
                xy=(1.01, yi),
                xycoords=("axes fraction", "data"),
                va="center",
                fontsize=8,
                color=VERDICT_COLORS.get(str(verdict), MUTED),
            )
        ax.axvline(0.0, color="#24292f", linewidth=0.8)
        if overall_lift is not None and np.isfinite(overall_lift):
            ax.axvline(overall_lift * scale, color=ACCENT, linestyle="--", linewidth=1)
        ax.set_title(plain(short(dimension)), loc="left", fontsize=10, fontweight="bold")
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.grid(axis="x", color="#eaeef2")
    unit = " in percentage points" if binary else ""
    which = "interval adjusted for multiple testing like the verdict" if adjusted else "interval"
    axes[-1, 0].set_xlabel(f"absolute lift (treatment − control){unit}, with {which}; dashed: overall effect")
    fig.suptitle(plain(title), x=0.01, ha="left", fontsize=11)
    cut = sorted({str(v) for v in [*lifts["segment"], *lifts["dimension"]] if short(v) != str(v)})
    return to_img(
        fig,
        f"Forest plot of segment lifts: {title}",
        tooltip="Names shortened in the plot: " + "; ".join(cut) if cut else "",
    )


def _count(value) -> str:
    return "?" if pd.isna(value) else f"{int(value):,}"


def banded_learners(curves: pd.DataFrame) -> set[str]:
    """The learners whose bootstrap band is drawn: the chosen one only. Five translucent bands on one axis overlap
    into an unreadable smear; the other learners are lines, their intervals in the table beside the figure."""
    if "is_chosen" not in curves or not {"value_ci_low", "value_ci_high"} <= set(curves.columns):
        return set()
    return set(curves.loc[curves["is_chosen"].fillna(False).astype(bool), "learner"].dropna().astype(str))


def interval_band(ax, x, rows: pd.DataFrame, prefix: str, color: str, alpha: float, label: str | None = None):
    """Shade the interval between columns ``<prefix>_low`` and ``<prefix>_high`` of ``rows`` over ``x``."""
    low, high = rows[f"{prefix}_low"].to_numpy(float), rows[f"{prefix}_high"].to_numpy(float)
    ax.fill_between(x, low, high, color=color, alpha=alpha, linewidth=0, label=label)


@with_fallback_fonts
def uplift_curves(curves: pd.DataFrame, title: str, metric: str = "outcome") -> str:
    """Qini and uplift curves, one line per learner; the chosen learner drawn thicker, with its bootstrap band."""
    kinds = [k for k in ("qini", "uplift") if k in set(curves["curve"])]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 3.8), squeeze=False)
    learners = sorted(curves["learner"].dropna().unique())
    banded = banded_learners(curves)
    for ax, kind in zip(axes[0], kinds):
        for i, learner in enumerate(learners):
            rows = curves[(curves["curve"] == kind) & (curves["learner"] == learner)].sort_values("fraction_targeted")
            if rows.empty:
                continue
            color = LEARNER_COLORS[i % len(LEARNER_COLORS)]
            chosen = bool(rows["is_chosen"].fillna(False).any()) if "is_chosen" in rows else False
            x = rows["fraction_targeted"].to_numpy(float)
            ax.plot(
                x,
                rows["value"].to_numpy(float),
                color=color,
                linewidth=2.6 if chosen else 1.3,
                label=plain(f"{learner} (chosen)" if chosen else learner),
            )
            if str(learner) in banded:
                interval_band(ax, x, rows, "value_ci", color, alpha=0.12)
        ax.axhline(0.0, color="#24292f", linewidth=0.8)
        ax.set_title(f"{kind} curve", fontsize=10)
        ax.set_xlabel("fraction targeted (highest predicted effect first)")
        ax.grid(color="#eaeef2")
    # both curves are totals over the targeted units (docs/uplift.md): Y_T − Y_C·N_T/N_C and (ȳ_T − ȳ_C)·N
    axes[0, 0].set_ylabel(plain(f"incremental {metric} (total over the targeted)"))
    axes[0, -1].legend(fontsize=8, loc="best")
    fig.suptitle(plain(title), x=0.01, ha="left", fontsize=11)
    fig.tight_layout()
    return to_img(fig, f"Qini and uplift curves per learner: {title}")


@with_fallback_fonts
def calibration_plot(deciles: pd.DataFrame, title: str) -> str:
    """Predicted against observed lift per group of predicted effect (1 = highest), observed with its interval."""
    rows = deciles.sort_values("decile")
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    x = rows["decile"].to_numpy(int)
    observed = rows["observed_lift"].to_numpy(float)
    err = np.vstack(
        [
            observed - rows["observed_lift_ci_low"].to_numpy(float),
            rows["observed_lift_ci_high"].to_numpy(float) - observed,
        ]
    )
    ax.errorbar(x, observed, yerr=err, fmt="o", color=ACCENT, capsize=3, label="observed lift (interval)")
    ax.plot(x, rows["mean_predicted"].to_numpy(float), "D", color="#bf3989", label="mean predicted effect")
    ax.axhline(0.0, color="#24292f", linewidth=0.8)
    ax.set_xticks(x)
    ax.set_xlabel("group of predicted effect (1 = highest)")
    ax.set_ylabel("lift")
    ax.grid(color="#eaeef2")
    ax.legend(fontsize=8)
    ax.set_title(plain(title), loc="left", fontsize=10)
    return to_img(fig, f"Calibration by decile: {title}")


@with_fallback_fonts
def budget_curve(curve: pd.DataFrame, markers: pd.DataFrame, title: str) -> str:
    """Incremental value against spend, treating the highest predicted net values first; policies as points."""
    rows = curve.sort_values("cost")
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    x = rows["cost"].to_numpy(float)
    ax.plot(x, rows["value"].to_numpy(float), color=ACCENT, linewidth=2, label="value at this spend")
    interval_band(ax, x, rows, "ci", ACCENT, alpha=0.15, label="interval")
    for i, (_, row) in enumerate(markers.iterrows()):
        if pd.isna(row["cost"]) or pd.isna(row["value"]):
            continue
        flag = row.get("is_deployed", False)
        deployed = bool(flag) if not pd.isna(flag) else False
        ax.plot(
            row["cost"],
            row["value"],
            "*" if deployed else "s",
            markersize=12 if deployed else 7,
            color=NEGATIVE if deployed else LEARNER_COLORS[(i + 1) % len(LEARNER_COLORS)],
            label=plain(f"{row['policy']}{' (deployed)' if deployed else ''}"),
        )
    ax.axhline(0.0, color="#24292f", linewidth=0.8)
    ax.set_xlabel("spend (cost of the treated units)")
    ax.set_ylabel("incremental net value vs. treating nobody")
    ax.grid(color="#eaeef2")
    ax.legend(fontsize=8, loc="best")
    ax.set_title(plain(title), loc="left", fontsize=10)
    return to_img(fig, f"Budget curve: {title}")


@with_fallback_fonts
def policy_values(policies: pd.DataFrame, title: str) -> str:
    """Each policy's incremental value with its interval, as horizontal bars."""
    rows = policies.sort_values("value")
    fig, ax = plt.subplots(figsize=(7.5, 0.8 + 0.45 * len(rows)))
    y = np.arange(len(rows))
    values = rows["value"].to_numpy(float)
    colors = [POSITIVE if v > 0 else NEGATIVE if v < 0 else MUTED for v in values]
    ax.barh(y, values, color=colors, alpha=0.75)
    low, high = rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float)
    ok = np.isfinite(low) & np.isfinite(high)
    ax.errorbar(
        values[ok],
        y[ok],
        xerr=np.vstack([values[ok] - low[ok], high[ok] - values[ok]]),
        fmt="none",
        ecolor="#24292f",
        capsize=3,
    )
    ax.set_yticks(y, [plain(p) for p in rows["policy"]], fontsize=9)
    ax.axvline(0.0, color="#24292f", linewidth=0.8)
    ax.set_xlabel("incremental net value vs. treating nobody (interval)")
    ax.grid(axis="x", color="#eaeef2")
    ax.set_title(plain(title), loc="left", fontsize=10)
    return to_img(fig, f"Policy values: {title}")


@with_fallback_fonts
def lift_over_time(history: pd.DataFrame, title: str) -> str:
    """The overall lift of one experiment × metric × arm at each run date (hte_lift_history rows): the confidence
    sequence as a shaded band (valid at every look at once), the fixed-horizon interval as error bars (valid at one
    pre-planned look only), and zero. Reading the band is safe after any number of runs; the bars are not."""
    rows = history.assign(run_date=pd.to_datetime(history["run_date"])).sort_values("run_date")
    x = rows["run_date"].to_numpy()
    fig, ax = plt.subplots(figsize=(8.5, 3.2))
    cs_low, cs_high = (
        rows["lift_abs_cs_low"].astype(float).to_numpy(),
        rows["lift_abs_cs_high"].astype(float).to_numpy(),
    )
    if len(rows) > 1:
        ax.fill_between(x, cs_low, cs_high, color=ACCENT, alpha=0.18, label="confidence sequence (any number of looks)")
    else:  # one run: a band needs two dates, so the sequence is a wide pale bar, a week of axis around it
        ax.vlines(
            x,
            cs_low,
            cs_high,
            color=ACCENT,
            alpha=0.25,
            linewidth=14,
            label="confidence sequence (any number of looks)",
        )
        ax.set_xlim(x[0] - np.timedelta64(3, "D"), x[0] + np.timedelta64(3, "D"))
    lift = rows["lift_abs"].astype(float).to_numpy()
    low = (lift - rows["lift_abs_ci_low"].astype(float)).to_numpy()
    high = (rows["lift_abs_ci_high"].astype(float) - lift).to_numpy()
    ax.errorbar(
        x,
        lift,
        yerr=[low, high],
        fmt="o-",
        color=ACCENT,
        ecolor=MUTED,
        capsize=3,
        markersize=4,
        label="lift, fixed-horizon interval (one look)",
    )
    ax.axhline(0, color="#57606a", linewidth=0.8)
    ax.set_ylabel("lift (absolute)")
    ax.set_title(plain(title), fontsize=10, loc="left")
    ax.legend(fontsize=8, loc="best", frameon=False)
    ax.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%Y-%m-%d"))
    fig.autofmt_xdate()
    return to_img(fig, f"Lift over run dates: {title}")
