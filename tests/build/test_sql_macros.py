"""The portable statistical SQL macros (macros/stats/) against scipy and statsmodels, run on DuckDB.

The macros are compiled once per module by dbt, in a throwaway project named dbt_hte whose only macros are
macros/stats (so adapter.dispatch resolves exactly as in the package, and the test does not depend on the state of
the models), then the compiled SQL runs in DuckDB on grids and on hypothesis-generated p-value vectors.

Promises tested (tolerances are the documented ones, see macros/stats/stats.yml):
- hte_normal_cdf: 1e-12 absolute against scipy.stats.norm.cdf over |z| <= 38; the tail Phi(-|z|) and the two-sided
  p-value also 1e-12 relative up to |z| = 37; exactly 0 / 1 beyond 37.5.
- hte_normal_quantile: 1e-12 relative against scipy.stats.norm.ppf for p in [1e-300, 1 - 1e-16].
- hte_chi2_pvalues: 1e-12 absolute against scipy.stats.chi2.sf for df 1..200, x in [0, 2000]; 1e-11 up to df 2000.
- hte_p_adjust: equal to statsmodels multipletests (bonferroni, holm, fdr_bh) to 1e-12, with ties, p = 1, nulls.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from unittest import mock

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests

from dbt_runner import REPO, run_dbt

# name -> the SQL of one analysis; every input relation is a DuckDB table the test creates before running it.
ANALYSES = {
    "double": "select cast(x as {{ hte_double() }}) as x, typeof(cast(x as {{ hte_double() }})) as type_name from nums",
    "safe_exp": "select x, {{ hte_safe_exp('x') }} as e from nums",
    "is_finite": "select x, {{ hte_is_finite('x') }} as finite from nums",
    "is_finite_int": "select i, {{ hte_is_finite('i') }} as finite from ints",
    "normal": "select z, {{ hte_normal_cdf('z') }} as cdf, {{ hte_normal_tail('z') }} as tail, "
    "{{ hte_normal_two_sided_p('z') }} as p from grid",
    "quantile": "select p, {{ hte_normal_quantile('p') }} as q from probs",
    "quantile_constant": "select {{ hte_normal_quantile('1 - 0.05 / 2') }} as z975, "
    "{{ hte_normal_quantile('0.5') }} as z50, {{ hte_normal_quantile('0') }} as z0",
    "chi2": "{{ hte_chi2_pvalues('chi', ['id', 'label'], statistic='q', df='df') }}",
    "chi2_expr": "{{ hte_chi2_pvalues('chi', ['id'], statistic='2 * half_q', df='df + 0', out_col='p') }}",
    "integers": "{{ hte_integers(2) }}",
}
METHODS = {"bonferroni": "bonferroni", "holm": "holm", "bh": "fdr_bh"}
for _method in METHODS:
    ANALYSES[f"adjust_{_method}"] = f"{{{{ hte_p_adjust('pvals', 'p', ['fam_a', 'fam_b'], '{_method}') }}}}"
ANALYSES["adjust_one_family"] = "{{ hte_p_adjust('pvals', 'p', [], 'holm', out_col='holm_p') }}"


def _write_project(root: Path, analyses: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(
        textwrap.dedent("""\
        name: dbt_hte
        version: "0.1.0"
        config-version: 2
        profile: dbt_hte
        macro-paths: ["stats", "cross_db"]
        analysis-paths: ["analyses"]
        model-paths: []
        seed-paths: []
        test-paths: []
        """)
    )
    for folder in ("stats", "cross_db"):  # the statistics macros and the cross-database shims they use
        (root / folder).symlink_to(REPO / "macros" / folder, target_is_directory=True)
    (root / "analyses").mkdir()
    for name, sql in analyses.items():
        (root / "analyses" / f"{name}.sql").write_text(sql + "\n")
    return root


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("sql_macros")
    project = _write_project(work / "project", ANALYSES)
    result = run_dbt(["compile"], work, project_dir=project, timeout=300)
    assert result.ok, result.output[-4000:]
    out = work / "target" / "compiled" / "dbt_hte" / "analyses"
    return {name: (out / f"{name}.sql").read_text() for name in ANALYSES}


@pytest.fixture()
def con():
    with duckdb.connect() as c:
        yield c


def _table(con, name: str, columns: dict[str, str], rows: list[tuple]) -> None:
    """A DuckDB table from Python values: None is NULL and float('nan') stays NaN (pandas would blur the two)."""
    con.execute(f"create or replace table {name} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
    if rows:
        con.executemany(f"insert into {name} values ({', '.join('?' for _ in columns)})", rows)


def _frame(con, name: str, frame: pd.DataFrame) -> None:
    con.register("hte_test_frame", frame)
    con.execute(f"create or replace table {name} as select * from hte_test_frame")
    con.unregister("hte_test_frame")


# ---------------------------------------------------------------------------------------------- small helpers


def test_double_is_an_8_byte_float(compiled, con):
    _table(con, "nums", {"x": "double"}, [(1 + 2.0**-40,)])
    x, type_name = con.execute(compiled["double"]).fetchone()
    assert type_name == "DOUBLE"
    assert x == 1 + 2.0**-40  # a 4-byte float would round this to 1.0


def test_safe_exp_clamps_instead_of_underflowing_and_keeps_null(compiled, con):
    _table(con, "nums", {"x": "double"}, [(-1000.0,), (-700.0,), (-1.5,), (0.0,), (3.0,), (None,)])
    got = dict(con.execute(compiled["safe_exp"]).fetchall())
    assert got[None] is None  # greatest(null, -700) would have given exp(-700)
    for x in (-700.0, -1.5, 0.0, 3.0):
        assert got[x] == pytest.approx(math.exp(x), rel=1e-15)
    assert got[-1000.0] == pytest.approx(math.exp(-700), rel=1e-15)


def test_is_finite_is_false_for_null_nan_and_infinities(compiled, con):
    values = [1.5, 0.0, -2.0, float("inf"), float("-inf"), float("nan"), None]
    _table(con, "nums", {"x": "double"}, [(v,) for v in values])
    rows = con.execute(compiled["is_finite"]).fetchall()
    got = {("nan" if isinstance(x, float) and math.isnan(x) else x): finite for x, finite in rows}
    assert got == {
        1.5: True,
        0.0: True,
        -2.0: True,
        float("inf"): False,
        float("-inf"): False,
        "nan": False,
        None: False,
    }


def test_is_finite_on_integers(compiled, con):
    _table(con, "ints", {"i": "bigint"}, [(3,), (-9_223_372_036_854_775_807,), (None,)])
    assert sorted(con.execute(compiled["is_finite_int"]).fetchall(), key=str) == [
        (-9_223_372_036_854_775_807, True),
        (3, True),
        (None, False),
    ]


def test_integers_are_0_to_99_once_each(compiled, con):
    assert sorted(i for (i,) in con.execute(compiled["integers"]).fetchall()) == list(range(100))


# ------------------------------------------------------------------------------------------------------ normal


def test_normal_cdf_matches_scipy_to_1e_12_absolute(compiled, con):
    z = np.concatenate(
        [np.linspace(-38, 38, 76_001), [0.0, -0.0, 1e-300, -1e-300, 0.66291, -0.66291, math.sqrt(32), -math.sqrt(32)]]
    )
    _frame(con, "grid", pd.DataFrame({"z": z}))
    got = con.execute(compiled["normal"]).df()
    assert np.max(np.abs(got["cdf"] - stats.norm.cdf(got["z"]))) < 1e-12
    assert got["cdf"].between(0, 1).all()


def test_normal_tail_and_two_sided_p_are_relatively_accurate_far_out(compiled, con):
    # 1 - Phi(|z|) cancels to 0 beyond |z| = 8.3; the tail must keep ~13 significant digits out to |z| = 37.
    z = np.concatenate([np.linspace(-37, 37, 74_001), [-8.5, 8.5, 20.0, -30.0]])
    _frame(con, "grid", pd.DataFrame({"z": z}))
    got = con.execute(compiled["normal"]).df()
    tail = stats.norm.sf(np.abs(got["z"]))
    assert np.max(np.abs(got["tail"] / tail - 1)) < 1e-12
    assert np.max(np.abs(got["p"] / (2 * tail) - 1)) < 1e-12


def test_normal_cdf_at_the_extremes_and_for_null(compiled, con):
    # Beyond 37.5 and at +-infinity: 0 or 1. Subnormal z: 1/2 (no product that could underflow, an error on
    # PostgreSQL). NaN: null, never the p-value 0 it would get by comparing greater than every number.
    inf = float("inf")
    _table(
        con,
        "grid",
        {"z": "double"},
        [(-38.0,), (38.0,), (-1e300,), (1e300,), (-inf,), (inf,), (5e-324,), (None,), (float("nan"),)],
    )
    got = {
        ("nan" if z is not None and math.isnan(z) else z): (cdf, p)
        for z, cdf, _, p in con.execute(compiled["normal"]).fetchall()
    }
    assert got == {
        -38.0: (0.0, 0.0),
        38.0: (1.0, 0.0),
        -1e300: (0.0, 0.0),
        1e300: (1.0, 0.0),
        -inf: (0.0, 0.0),
        inf: (1.0, 0.0),
        5e-324: (0.5, 1.0),
        None: (None, None),
        "nan": (None, None),
    }


def test_normal_quantile_matches_scipy_to_1e_12_relative(compiled, con):
    lower = np.logspace(-300, math.log10(0.5), 6_001)
    centre = 0.5 + np.concatenate([np.logspace(-16, -1, 301), -np.logspace(-16, -1, 301)])
    upper = 1 - np.logspace(-16, math.log10(0.5), 3_001)
    p = np.concatenate([lower, centre, upper, [0.025, 0.975, 1e-12, 1 - 1e-12]])
    _frame(con, "probs", pd.DataFrame({"p": p}))
    got = con.execute(compiled["quantile"]).df()
    expected = stats.norm.ppf(got["p"])
    assert np.max(np.abs(got["q"] - expected) / np.abs(expected)) < 1e-12


def test_normal_quantile_is_null_outside_0_1_and_zero_at_one_half(compiled, con):
    _table(con, "probs", {"p": "double"}, [(0.0,), (1.0,), (-0.1,), (1.5,), (None,), (0.5,)])
    got = dict(con.execute(compiled["quantile"]).fetchall())
    assert got == {0.0: None, 1.0: None, -0.1: None, 1.5: None, None: None, 0.5: 0.0}


def test_normal_quantile_of_a_constant(compiled, con):
    z975, z50, z0 = con.execute(compiled["quantile_constant"]).fetchone()
    assert z975 == pytest.approx(stats.norm.ppf(0.975), rel=1e-14)
    assert (z50, z0) == (0.0, None)


# ------------------------------------------------------------------------------------------------- chi-square


def _chi2_frame(x: np.ndarray, df: np.ndarray) -> pd.DataFrame:
    grid_x, grid_df = np.meshgrid(x, df)
    frame = pd.DataFrame({"q": grid_x.ravel(), "df": grid_df.ravel().astype("int64")})
    frame.insert(0, "id", np.arange(len(frame)))
    frame.insert(1, "label", "row")
    return frame


def test_chi2_pvalues_match_scipy_to_1e_12_for_df_up_to_200(compiled, con):
    x = np.concatenate([[0.0, 1e-12, 1e-6, 0.01, 0.5], np.linspace(0, 300, 121)[1:], np.linspace(300, 2000, 35)])
    frame = _chi2_frame(x, np.arange(1, 201))
    _frame(con, "chi", frame)
    got = con.execute(compiled["chi2"]).df().merge(frame, on=["id", "label"], validate="one_to_one")
    assert len(got) == len(frame)
    assert np.max(np.abs(got["p_value"] - stats.chi2.sf(got["q"], got["df"]))) < 1e-12


def test_chi2_pvalues_stay_within_1e_11_up_to_df_2000(compiled, con):
    frame = _chi2_frame(np.linspace(0, 5000, 126), np.array([201, 499, 500, 999, 1000, 1001, 1999, 2000]))
    _frame(con, "chi", frame)
    got = con.execute(compiled["chi2"]).df().merge(frame, on=["id", "label"])
    assert np.max(np.abs(got["p_value"] - stats.chi2.sf(got["q"], got["df"]))) < 1e-11


def test_chi2_pvalues_edge_cases_keep_one_row_per_input_row(compiled, con):
    rows = [  # id, label, q, df, expected p
        (1, "x = 0", 0.0, 3.0, 1.0),
        (2, "negative x", -1.0, 2.0, 1.0),
        (3, "df 0", 1.0, 0.0, None),
        (4, "fractional df", 1.0, 2.5, None),
        (5, "df beyond 2000", 1.0, 2001.0, None),
        (6, "null statistic", None, 2.0, None),
        (7, "null df", 1.0, None, None),
        (8, "NaN statistic", float("nan"), 2.0, None),
        (9, "infinite statistic", float("inf"), 2.0, None),
        (10, "duplicate key", 3.84, 1.0, stats.chi2.sf(3.84, 1)),
        (10, "duplicate key", 3.84, 1.0, stats.chi2.sf(3.84, 1)),
        (11, "df 1", 3.841458820694124, 1.0, 0.05),
        (12, "df 2", 5.991464547107979, 2.0, 0.05),
        (13, "subnormal x", 5e-324, 3.0, 1.0),
        (14, "x 1e-300, df 1", 1e-300, 1.0, 1.0),
    ]
    _table(con, "chi", {"id": "integer", "label": "varchar", "q": "double", "df": "double"}, [r[:4] for r in rows])
    got = sorted(con.execute(compiled["chi2"]).fetchall(), key=lambda r: r[0])
    assert [(i, label) for i, label, _ in got] == [(i, label) for i, label, *_ in rows]
    for (_, label, p), expected in zip(got, [r[4] for r in rows]):
        if expected is None:
            assert p is None, label
        else:
            assert p == pytest.approx(expected, abs=1e-12), label


def test_chi2_pvalues_accept_expressions(compiled, con):
    _table(con, "chi", {"id": "integer", "half_q": "double", "df": "integer"}, [(1, 2.5, 4), (2, 0.1, 7)])
    got = dict(con.execute(compiled["chi2_expr"]).fetchall())
    assert got[1] == pytest.approx(stats.chi2.sf(5.0, 4), abs=1e-14)
    assert got[2] == pytest.approx(stats.chi2.sf(0.2, 7), abs=1e-14)


# --------------------------------------------------------------------------------------- multiple testing


def _statsmodels_adjusted(p: pd.Series, method: str) -> np.ndarray:
    out = np.full(len(p), np.nan)
    values = p.to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(values)
    if finite.any():
        out[finite] = multipletests(values[finite], method=method)[1]
    return out


# p-values drawn from a handful of values (ties, 1, 0) and from the whole interval; null and NaN stay out of m.
P_VALUE = st.one_of(
    st.sampled_from([0.0, 1e-10, 0.001, 0.01, 0.02, 0.04, 0.05, 0.2, 0.5, 1.0]),
    st.floats(min_value=0.0, max_value=1.0),
    st.none(),
    st.just(float("nan")),
)
FAMILIES = st.lists(
    st.tuples(st.sampled_from(["e1", "e2", None]), st.sampled_from([1, 2]), P_VALUE), min_size=0, max_size=40
)


@settings(max_examples=100, deadline=None)
@given(rows=FAMILIES)
def test_p_adjust_equals_statsmodels(compiled, rows):
    # multipletests(method='holm') ends with gc.collect(), 0.1 s per call in a pytest process, which would make
    # this test take a minute; the collection does not touch the numbers.
    with duckdb.connect() as con, mock.patch("gc.collect"):
        _table(
            con,
            "pvals",
            {"row_id": "integer", "fam_a": "varchar", "fam_b": "integer", "p": "double"},
            [(i, *r) for i, r in enumerate(rows)],
        )
        for method, statsmodels_method in METHODS.items():
            got = con.execute(compiled[f"adjust_{method}"]).df()
            assert sorted(got["row_id"]) == list(range(len(rows))), method
            assert list(got.columns) == ["row_id", "fam_a", "fam_b", "p", "p_value_adj"], method
            got["fam_a"] = got["fam_a"].fillna("<null>")  # a null family key is a family of its own
            for _, family in got.groupby(["fam_a", "fam_b"]):
                expected = _statsmodels_adjusted(family["p"], statsmodels_method)
                actual = family["p_value_adj"].to_numpy(dtype=float, na_value=np.nan)
                assert np.array_equal(np.isnan(expected), np.isnan(actual)), method
                assert np.nanmax(np.abs(expected - actual), initial=0.0) <= 1e-12, method


def test_p_adjust_with_no_partition_is_one_family(compiled, con):
    p = [0.01, 0.04, 0.04, 0.03, None, 1.0, 0.005]
    _table(
        con,
        "pvals",
        {"row_id": "integer", "fam_a": "varchar", "fam_b": "integer", "p": "double"},
        [(i, "e1" if i % 2 else "e2", i % 3, v) for i, v in enumerate(p)],
    )
    got = con.execute(compiled["adjust_one_family"]).df().sort_values("row_id")
    assert "holm_p" in got.columns
    expected = _statsmodels_adjusted(got["p"], "holm")
    np.testing.assert_allclose(got["holm_p"].to_numpy(dtype=float, na_value=np.nan), expected, rtol=0, atol=1e-12)


def test_p_adjust_rejects_an_unknown_method_with_an_actionable_message(tmp_path):
    project = _write_project(tmp_path / "project", {"bad": "{{ hte_p_adjust('pvals', 'p', [], 'sidak') }}"})
    result = run_dbt(["compile"], tmp_path, project_dir=project, timeout=300)
    assert not result.ok
    assert "unknown multiple-testing method 'sidak' (var hte_p_adjust)" in result.output
    assert "holm, bh, bonferroni" in result.output
