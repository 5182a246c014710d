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
