{#- A normal interval as two output columns, `name`_ci_low`suffix` and `name`_ci_high`suffix` (name defaults to the
    estimate's column): the bounds of hte_interval_bound at critical value `z` (z_critical for the interval at
    hte_alpha, z_critical_adj for the one at the multiple-testing level, suffix '_adj'). -#}
{% macro hte_normal_interval(estimate, se, z, name=none, suffix='') -%}
{%- set name = name or estimate -%}
{{ hte_interval_bound(estimate, se, z, '-') }} as {{ name }}_ci_low{{ suffix }},
    {{ hte_interval_bound(estimate, se, z, '+') }} as {{ name }}_ci_high{{ suffix }}
{%- endmacro %}
