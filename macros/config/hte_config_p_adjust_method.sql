{% macro hte_config_p_adjust_method() %}
  {%- set method = var('hte_p_adjust') -%}
  {%- if method not in ['holm', 'bh', 'bonferroni'] -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_p_adjust' must be holm, bh or bonferroni; got "
        ~ (method | string) ~ ".") }}
  {%- endif -%}
  {{ return(method) }}
{% endmacro %}
