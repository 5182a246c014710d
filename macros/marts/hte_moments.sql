{#- Centred sums from summable sums: S_ab = Σab − Σa·Σb / n, the building block of sample (co)variances.

    Σa² − (Σa)²/n cancels catastrophically when a hardly varies: a segment where every unit has the same value
    9.99 can come out as ±1e-13 instead of 0, and a standard error built on that would call a degenerate segment
    "significant". A centred sum of squares below 1e-12 of Σa² (a coefficient of variation under 1e-6, far below
    anything real data shows) is therefore set to exactly 0. -#}
{% macro hte_centered_sum_of_squares(n, sum_a, sum_a2) -%}
(case
    when ({{ n }}) > 0 and ({{ sum_a2 }}) - ({{ sum_a }}) * ({{ sum_a }}) / ({{ n }}) > 1e-12 * abs({{ sum_a2 }})
        then ({{ sum_a2 }}) - ({{ sum_a }}) * ({{ sum_a }}) / ({{ n }})
    when ({{ n }}) > 0 then 0.0e0
end)
{%- endmacro %}

{% macro hte_centered_cross_product(n, sum_a, sum_b, sum_ab) -%}
(case when ({{ n }}) > 0 then ({{ sum_ab }}) - ({{ sum_a }}) * ({{ sum_b }}) / ({{ n }}) end)
{%- endmacro %}


{#- Variance of the CUPED-adjusted outcome y − θx within one arm: (S_yy − 2θS_xy + θ²S_xx)/(n − 1).
    When y is an exact linear function of x in the arm, the three terms cancel to rounding noise of either sign
    (about 1e-16 of S_yy + θ²S_xx, more after the cancellation inside S_yy): a residual below 1e-10 of that scale
    (R² above 1 − 1e-10, an exact fit in any real data) is exactly 0, so the lift gets no interval rather than
    one whose width is noise. -#}
{% macro hte_adjusted_variance(s_yy, s_xy, s_xx, theta, n) -%}
(case
    when ({{ s_yy }}) - 2.0e0 * ({{ theta }}) * ({{ s_xy }}) + ({{ theta }}) * ({{ theta }}) * ({{ s_xx }})
        > 1e-10 * (({{ s_yy }}) + ({{ theta }}) * ({{ theta }}) * ({{ s_xx }}))
        then (({{ s_yy }}) - 2.0e0 * ({{ theta }}) * ({{ s_xy }}) + ({{ theta }}) * ({{ theta }}) * ({{ s_xx }})) / (({{ n }}) - 1)
    when ({{ theta }}) is not null then 0.0e0
end)
{%- endmacro %}
