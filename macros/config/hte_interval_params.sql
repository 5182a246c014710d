{#- The one-row interval parameters every test mart shares: alpha and z_{1-alpha/2} (computed once per build). -#}
{% macro hte_interval_params(alpha) -%}
    select
        {{ hte_double_literal(alpha) }} as alpha,
        {{ hte_normal_quantile('1.0e0 - ' ~ hte_double_literal(alpha) ~ ' / 2.0e0') }} as z_critical
{%- endmacro %}
