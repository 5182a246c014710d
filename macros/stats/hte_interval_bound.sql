{#- One bound of a normal interval: estimate − z·se (`sign` '-') or estimate + z·se (`sign` '+'), null unless the
    standard error is positive, so a zero or missing standard error gives no interval rather than a point. -#}
{% macro hte_interval_bound(estimate, se, z, sign) -%}
case when {{ se }} > 0 then {{ estimate }} {{ sign }} {{ z }} * {{ se }} end
{%- endmacro %}
