{#- Settings of the sequential intervals and of the monitoring models, read from vars and checked once, so that a
    typo fails the build with a sentence instead of silently changing what a verdict means. -#}

{#- The number of units (treatment + control of one comparison) at which the confidence sequence is tightest. -#}
{% macro hte_config_sequential_tuning_n() %}
  {%- set n = var('hte_sequential_tuning_n', 10000) -%}
  {%- if n is not number or n <= 0 -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_sequential_tuning_n' must be a positive number of units (treatment "
        ~ "plus control) at which the confidence sequence is tightest (e.g. 10000); got " ~ (n | string) ~ ".") }}
  {%- endif -%}
  {{ return(n) }}
{% endmacro %}
