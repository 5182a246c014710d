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
