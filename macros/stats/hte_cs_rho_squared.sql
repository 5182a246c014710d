{#- ρ² for tightness at tuning_n units, as a SQL expression (alpha and tuning_n are numbers from vars). -#}
{% macro hte_cs_rho_squared(alpha, tuning_n) -%}
((-2.0e0 * ln({{ hte_double_literal(alpha) }}) + ln(1.0e0 - 2.0e0 * ln({{ hte_double_literal(alpha) }})))
    / {{ hte_double_literal(tuning_n) }})
{%- endmacro %}
