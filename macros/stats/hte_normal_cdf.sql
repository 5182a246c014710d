{#- Standard normal distribution in portable SQL.

    The CDF is W. J. Cody's rational Chebyshev approximation (Cody 1969, "Rational Chebyshev approximations for
    the error function", Math. Comp. 23, 631-637; as packaged in ACM TOMS Algorithm 715, the algorithm behind
    R's pnorm). Three regions of |z|, each a ratio of two polynomials; the two outer ones times exp(-z^2/2).
    Against scipy.stats.norm.cdf: absolute error below 3e-16 everywhere, relative error of the tail
    Phi(-|z|) below 2e-14 for |z| <= 8 and below 3e-13 up to |z| = 37.5. Hart's algorithm 5666 (Graeme West
    2005) is shorter but its tail is only accurate to 1e-8 relative, which the quantile refinement would inherit.

    The CDF macros are expressions that repeat their argument many times: pass a column name (or a short
    expression), not a subquery. Constants are written with an exponent (1.5e0) so that DuckDB, Spark and
    Snowflake read them as doubles, not as fixed-point decimals. -#}


{#- Standard normal CDF Phi(z); 0 below -37.5 and 1 above 37.5 (like scipy, whose values there differ from
    0 and 1 by less than 5e-309); null for null and NaN z. -#}
{% macro hte_normal_cdf(z) %}{{ return(adapter.dispatch('hte_normal_cdf', 'dbt_hte')(z)) }}{% endmacro %}

{% macro default__hte_normal_cdf(z) -%}
(case when ({{ z }}) > 0 then 1.0e0 - {{ hte_normal_tail(z) }} else {{ hte_normal_tail(z) }} end)
{%- endmacro %}
