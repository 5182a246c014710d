{#- Sequential p-value of estimate / se at t units (null unless se > 0 and t > 0). The exponent goes through
    hte_safe_exp: a large z would make exp() underflow, which PostgreSQL raises as an error. -#}
{% macro hte_cs_p_value(estimate, se, t, rho2) -%}
(case when ({{ se }}) > 0 and ({{ t }}) > 0 then
    least(1.0e0,
        sqrt(({{ t }}) * ({{ rho2 }}) + 1.0e0)
        * {{ hte_safe_exp('-0.5e0 * (' ~ estimate ~ ') / (' ~ se ~ ') * (' ~ estimate ~ ') / (' ~ se ~ ') * (' ~ t ~ ') * (' ~ rho2 ~ ') / ((' ~ t ~ ') * (' ~ rho2 ~ ') + 1.0e0)') }}
    )
end)
{%- endmacro %}
