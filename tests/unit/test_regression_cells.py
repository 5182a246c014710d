"""The cell-based OLS equals statsmodels' unit-level OLS: coefficients and HC0-HC3 errors to 1e-9 relative.

Each case draws unit rows, reduces them to cells the way `hte_cell_stats` does (n, sum y, sum y^2 per
arm x segment levels), fits from the cells, and fits statsmodels on the unit rows with the same design.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st

from hte_engine.regression.cells import fit_cell_ols
from hte_engine.regression.covariance import LEVERAGE_ONE_TOLERANCE
from hte_engine.regression.interactions import interaction_design

RTOL = 1e-9


def to_cells(units: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return (
        units.assign(y2=units["y"] ** 2)
        .groupby(keys, observed=True)
        .agg(n=("y", "size"), sum_y=("y", "sum"), sum_y2=("y2", "sum"))
        .reset_index()
    )


@st.composite
def unit_data(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(60, 400))
    levels_a = draw(st.integers(2, 5))
    levels_b = draw(st.integers(1, 4))
    binary = draw(st.booleans())
    treated = rng.integers(0, 2, n)
    a = rng.integers(0, levels_a, n)
    b = rng.integers(0, levels_b, n)
    # Every level of each dimension appears in both arms, so the design is full rank and statsmodels' pinv
    # solution coincides with the unique OLS solution.
    treated[: 2 * levels_a] = np.tile([0, 1], levels_a)
    a[: 2 * levels_a] = np.repeat(np.arange(levels_a), 2)
    treated[2 * levels_a : 2 * levels_a + 2 * levels_b] = np.tile([0, 1], levels_b)
    b[2 * levels_a : 2 * levels_a + 2 * levels_b] = np.repeat(np.arange(levels_b), 2)
    scale = rng.uniform(0.5, 3.0, levels_a)[a]
    mean = 5.0 + 0.3 * a - 0.2 * b + treated * (0.5 + 0.4 * (a == 1))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(mean - 5.5)))).astype(float) if binary else rng.normal(mean, scale)
    return pd.DataFrame(
        {
            "arm": np.where(treated == 1, "treatment", "control"),
            "a": [f"a{i}" for i in a],
            "b": [f"b{i}" for i in b],
            "y": y,
        }
    )


def design_for(units_or_cells: pd.DataFrame, dimensions: list[str]):
    levels = {d: tuple(sorted(units_or_cells[d].unique())) for d in dimensions}
    design = interaction_design(levels, {d: levels[d][0] for d in dimensions})
    return design, design.matrix((units_or_cells["arm"] == "treatment").to_numpy(), units_or_cells)


def assert_close(ours: np.ndarray, reference: np.ndarray, rtol: float = RTOL) -> None:
    # Relative to the largest magnitude in the vector, so a coefficient that is zero up to rounding does not
    # demand an impossible relative precision of its own.
    scale = np.max(np.abs(reference))
    np.testing.assert_allclose(ours, reference, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3"])
@settings(max_examples=25, deadline=None)
@given(units=unit_data())
def test_cell_fit_equals_unit_level_statsmodels(units: pd.DataFrame, cov_type: str) -> None:
    for dimensions in (["a"], ["a", "b"]):
        cells = to_cells(units, ["arm", *dimensions])
        design, x_cells = design_for(cells, dimensions)
        ours = fit_cell_ols(x_cells, cells["n"], cells["sum_y"], cells["sum_y2"], design.names, cov_type)
        _, x_units = design_for(units, dimensions)
        reference = sm.OLS(units["y"].to_numpy(), x_units).fit(cov_type=cov_type)
        keep = ~ours.aliased
        if cov_type in ("HC2", "HC3") and ours.leverage_max > 1 - LEVERAGE_ONE_TOLERANCE:
            # A single unit alone identifies a coefficient: HC2/HC3 divide 0 by 0. statsmodels returns rounding
            # noise there; the engine returns no number, and the model reports status leverage_one.
            assert not np.all(np.isfinite(ours.std_errors[keep]))
            continue
        if np.linalg.matrix_rank(x_units) < x_units.shape[1]:
            # A one-level dimension b leaves no b terms; anything else aliased must match statsmodels' rank.
            assert keep.sum() == np.linalg.matrix_rank(x_units)
            reference = sm.OLS(units["y"].to_numpy(), x_units[:, keep]).fit(cov_type=cov_type)
        assert_close(ours.params[keep], reference.params)
        assert_close(ours.cov, reference.cov_params())
        # Standard errors are compared where they are not degenerate: a binary outcome that is 0 in every unit
        # of a cell has a true standard error of 0, and the square root turns a 1e-32 variance residue into
        # 1e-16 or 1e-8 depending on the order of the sums; the covariance check above covers those.
        regular = reference.bse > 1e-6 * reference.bse.max()
        np.testing.assert_allclose(ours.std_errors[keep][regular], reference.bse[regular], rtol=RTOL)


def test_large_mean_small_spread_keeps_documented_precision() -> None:
    # Raw sums of squares lose about log10((mean/sd)^2) digits to cancellation before the engine sees them:
    # with mean/sd = 1e3, 6 of 16 digits, so the standard errors still agree to about 1e-10.
    rng = np.random.default_rng(7)
    units = pd.DataFrame({"arm": rng.choice(["control", "treatment"], 5000), "a": rng.choice(["x", "y", "z"], 5000)})
    units["y"] = 1e3 + rng.normal(size=5000) + (units["arm"] == "treatment") * 0.1
    cells = to_cells(units, ["arm", "a"])
    design, x_cells = design_for(cells, ["a"])
    ours = fit_cell_ols(x_cells, cells["n"], cells["sum_y"], cells["sum_y2"], design.names, "HC1")
    _, x_units = design_for(units, ["a"])
    reference = sm.OLS(units["y"].to_numpy(), x_units).fit(cov_type="HC1")
    np.testing.assert_allclose(ours.std_errors, reference.bse, rtol=1e-7)


def test_design_matches_formula_with_treatment_coding() -> None:
    # The hand-built design must be the one a statistician writes: y ~ T * C(a, Treatment(reference)).
    rng = np.random.default_rng(3)
    units = pd.DataFrame({"arm": rng.choice(["control", "treatment"], 300), "a": rng.choice(["p", "q", "r"], 300)})
    units["y"] = rng.normal(size=300) + (units["arm"] == "treatment") * (units["a"] == "q")
    units["t"] = (units["arm"] == "treatment").astype(float)
    cells = to_cells(units, ["arm", "a"])
    design = interaction_design({"a": ("p", "q", "r")}, {"a": "q"})
    x = design.matrix((cells["arm"] == "treatment").to_numpy(), cells)
    ours = fit_cell_ols(x, cells["n"], cells["sum_y"], cells["sum_y2"], design.names, "HC1")
    formula = smf.ols("y ~ t * C(a, Treatment('q'))", data=units).fit(cov_type="HC1")
    names = {
        "intercept": "Intercept",
        "treatment": "t",
        "a=p": "C(a, Treatment('q'))[T.p]",
        "a=r": "C(a, Treatment('q'))[T.r]",
        "treatment:a=p": "t:C(a, Treatment('q'))[T.p]",
        "treatment:a=r": "t:C(a, Treatment('q'))[T.r]",
    }
    for j, name in enumerate(design.names):
        assert ours.params[j] == pytest.approx(formula.params[names[name]], rel=RTOL)
        assert ours.std_errors[j] == pytest.approx(formula.bse[names[name]], rel=RTOL)


def test_wald_test_equals_statsmodels() -> None:
    rng = np.random.default_rng(11)
    units = pd.DataFrame({"arm": rng.choice(["control", "treatment"], 800), "a": rng.choice(["p", "q", "r", "s"], 800)})
    units["y"] = rng.normal(size=800) + 0.3 * (units["arm"] == "treatment") * (units["a"] == "s")
    cells = to_cells(units, ["arm", "a"])
    design, x_cells = design_for(cells, ["a"])
    ours = fit_cell_ols(x_cells, cells["n"], cells["sum_y"], cells["sum_y2"], design.names, "HC1")
    _, x_units = design_for(units, ["a"])
    reference = sm.OLS(units["y"].to_numpy(), x_units).fit(cov_type="HC1")
    columns = design.columns("interaction")
    restriction = np.eye(len(design.names))[columns]
    wald = reference.wald_test(restriction, use_f=False, scalar=True)
    statistic, df, p = ours.wald_test(columns)
    assert statistic == pytest.approx(float(wald.statistic), rel=RTOL)
    assert df == len(columns)
    assert p == pytest.approx(float(wald.pvalue), rel=1e-7)


def test_segment_with_one_arm_is_aliased_not_fitted() -> None:
    rng = np.random.default_rng(5)
    units = pd.DataFrame({"arm": rng.choice(["control", "treatment"], 400), "a": rng.choice(["p", "q"], 400)})
    lonely = pd.DataFrame({"arm": ["control"] * 5, "a": ["r"] * 5})
    units = pd.concat([units, lonely], ignore_index=True)
    units["y"] = rng.normal(size=len(units))
    cells = to_cells(units, ["arm", "a"])
    design, x_cells = design_for(cells, ["a"])
    ours = fit_cell_ols(x_cells, cells["n"], cells["sum_y"], cells["sum_y2"], design.names, "HC1")
    aliased = [name for name, a in zip(design.names, ours.aliased, strict=True) if a]
    assert aliased == ["treatment:a=r"]
    # Dropping the unidentified column is the fit statsmodels gives on the remaining columns.
    _, x_units = design_for(units, ["a"])
    reference = sm.OLS(units["y"].to_numpy(), x_units[:, ~ours.aliased]).fit(cov_type="HC1")
    assert_close(ours.params[~ours.aliased], reference.params)
    assert_close(ours.std_errors[~ours.aliased], reference.bse)
