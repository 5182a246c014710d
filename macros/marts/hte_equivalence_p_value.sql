{#- TOST p-value: the larger of the one-sided p-values of H0: effect <= -delta and H0: effect >= +delta (normal
    approximation, as the lifts' own p-values). Below alpha exactly when the practical verdict is negligible. -#}
{% macro hte_equivalence_p_value(estimate, se, delta) -%}
case
    when {{ delta }} is not null and {{ se }} > 0 then greatest(
        {{ hte_normal_cdf('-((' ~ estimate ~ ' + ' ~ delta ~ ') / ' ~ se ~ ')') }},
        {{ hte_normal_cdf('(' ~ estimate ~ ' - ' ~ delta ~ ') / ' ~ se) }}
    )
end
{%- endmacro %}
