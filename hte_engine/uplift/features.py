"""The learners' feature matrix: numeric columns as floats, everything else as pandas categoricals that
scikit-learn's HistGradientBoosting splits on natively (given to it as their level codes, ``category_codes``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# HistGradientBoosting bins a categorical feature into at most 255 bins, one reserved for missing values.
MAX_CATEGORY_LEVELS = 250
OTHER_LEVEL = "(other)"


def prepare_features(frame: pd.DataFrame, columns: list[str], experiment_id: str = "") -> pd.DataFrame:
    """Select ``columns`` and type them for the base models; the category set is fixed here, from all units,
    so that every fold's model and every scoring batch code a level the same way."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"dbt_hte uplift: experiment '{experiment_id}': feature columns {missing} listed in var "
            "hte_feature_columns are not in the unit features; add them to hte_unit_features or remove them "
            "from the var."
        )
    if not columns:
        raise ValueError(
            f"dbt_hte uplift: experiment '{experiment_id}': var hte_feature_columns is empty; the learners need "
            "at least one pre-treatment feature."
        )
    out = {}
    for column in columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values):
            out[column] = values.astype(float)
        elif pd.api.types.is_numeric_dtype(values):
            out[column] = values.astype(float)
        else:
            out[column] = _categorical(values)
    return pd.DataFrame(out, index=frame.index)


def _categorical(values: pd.Series) -> pd.Categorical:
    """The column as a categorical of its text, levels sorted; beyond the bin limit the rarest levels share one.

    Coded through pandas' factorisation of the text (Arrow on pandas 3's strings), not one Python object per
    value: at a million units this was most of the time a comparison spent preparing its features."""
    text = values.astype("string")
    coded = pd.Categorical(text)
    if len(coded.categories) > MAX_CATEGORY_LEVELS:
        # Rare levels beyond the bin limit share one level rather than failing the fit.
        keep = text.value_counts().index[: MAX_CATEGORY_LEVELS - 1]
        coded = pd.Categorical(text.where(text.isin(keep) | text.isna(), OTHER_LEVEL))
    # Python's order of the level texts (code points), which the encoders of the learners also use.
    return coded.set_categories(sorted(coded.categories.tolist()))


def level_codes(values: pd.Series, missing: str = "(missing)") -> tuple[np.ndarray, list[str]]:
    """Each value's position in the sorted texts of the column's levels, a missing value being the level
    ``missing``: what comparing every unit's text with every level would give, counted from the level codes
    (a categorical's own, or pandas' factorisation of the text) rather than one Python object per unit."""
    coded = values.array if isinstance(values.dtype, pd.CategoricalDtype) else pd.Categorical(values.astype("string"))
    texts = [str(level) for level in coded.categories] + [missing]
    codes = np.where(coded.codes >= 0, coded.codes, len(texts) - 1)
    present = np.bincount(codes, minlength=len(texts)) > 0
    names = sorted({text for text, seen in zip(texts, present) if seen})
    index = {name: i for i, name in enumerate(names)}  # a dict: a raw column may have a level per unit
    position = np.array([index.get(text, -1) for text in texts])
    return position[codes], names


def category_levels(X: pd.DataFrame) -> dict[str, pd.Index]:
    """The categorical columns of a feature frame (``prepare_features``) and their levels."""
    return {name: X[name].cat.categories for name in X.columns if isinstance(X[name].dtype, pd.CategoricalDtype)}


def category_codes(X: pd.DataFrame, levels: dict[str, pd.Index]) -> pd.DataFrame:
    """``X`` with each categorical column replaced by the position of its value in ``levels`` (a float; missing or
    unknown values NaN), for HistGradientBoosting's ``categorical_features``.

    Fed the categoricals themselves ("from_dtype"), HistGradientBoosting ordinal-encodes their text at every fit
    and every prediction, one Python dict lookup per value: a fifth of a fit's time with the bench's six
    categorical features, and more of the targeting model's. Its encoder sorts the levels it sees, and
    ``prepare_features`` sorts them too, so the codes it learns are the same and the models are identical
    (tests/unit/test_learners.py). A frame coded with other levels (a scoring batch) is recoded by value."""
    coded = {}
    for name, categories in levels.items():
        column = X[name]
        if not (isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.equals(categories)):
            column = pd.Series(pd.Categorical(column, categories=categories), index=X.index)
        codes = column.cat.codes.to_numpy()
        coded[name] = np.where(codes >= 0, codes, np.nan)
    return X.assign(**coded) if coded else X
