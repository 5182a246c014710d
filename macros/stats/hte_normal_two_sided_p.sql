{#- Two-sided p-value of a z statistic, 2 * Phi(-|z|): exact in the far tail, where 2 * (1 - Phi(|z|)) would
    round to 0 for |z| > 8.3. -#}
{% macro hte_normal_two_sided_p(z) %}{{ return(adapter.dispatch('hte_normal_two_sided_p', 'dbt_hte')(z)) }}{% endmacro %}

{% macro default__hte_normal_two_sided_p(z) -%}
(2.0e0 * {{ hte_normal_tail(z) }})
{%- endmacro %}
