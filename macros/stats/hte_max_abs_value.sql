{#- The largest magnitude an outcome value (or pre-period value) may have: 1e30. Staging refuses larger ones.

    Why a bound at all: the SQL keeps sums of squares and cross-products over every unit (Σy², Σxy), squares
    sums ((Σy)²/n in every variance), and the lifts multiply a squared mean by a variance (the delta method of
    the relative lift), so the largest intermediate grows like N²·B² and B⁴ for N units with |y| <= B. An 8-byte
    float overflows at 1.8e308; beyond that every engine returns infinity (or NaN after a subtraction), and a
    lift built from it is a silently wrong number, not an error (issue 13: values of 1e300 gave a finite
    negative revenue lift with p = 0). A bound of 1e150, whose square is finite, is not enough: Σy² of a
    billion units at 1e150 is 1e309.

    Why 1e30: at a trillion units, N²·B² = 1e84 and B⁴ = 1e120, so the sums, their squares and the fourth-power
    products of the SQL and the engine's regressions and bootstraps stay 180 orders of magnitude below overflow.
    No per-unit business metric comes near it (the world's yearly output in the smallest currency unit is below
    1e19); a value that large is a unit error, an identifier or a timestamp loaded as a value, or a sentinel. -#}
{% macro hte_max_abs_value() %}{{ return('1e30') }}{% endmacro %}
