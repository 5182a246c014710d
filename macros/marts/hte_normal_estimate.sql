{#- An estimate as output columns: itself (`name`), its standard error (`name`_se), its normal interval at the
    z_critical of the one-row params CTE (alias prm: `name`_ci_low, `name`_ci_high) and its two-sided p-value
    (`p_value_name`, null unless `tested` holds), all doubles; no interval or p-value without a positive
    standard error. -#}
{% macro hte_normal_estimate(estimate, se, name, p_value_name, tested) -%}
    cast({{ estimate }} as {{ hte_double() }}) as {{ name }},
    cast({{ se }} as {{ hte_double() }}) as {{ name }}_se,
    cast({{ hte_interval_bound(estimate, se, 'prm.z_critical', '-') }} as {{ hte_double() }}) as {{ name }}_ci_low,
    cast({{ hte_interval_bound(estimate, se, 'prm.z_critical', '+') }} as {{ hte_double() }}) as {{ name }}_ci_high,
    cast(case
        when {{ tested }} and {{ se }} > 0 then {{ hte_normal_two_sided_p(estimate ~ ' / ' ~ se) }}
    end as {{ hte_double() }}) as {{ p_value_name }}
{%- endmacro %}
