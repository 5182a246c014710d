{% macro hte_config_check_alert_p() %}
  {%- set threshold = var('hte_check_alert_p') -%}
  {%- if threshold is not number or threshold <= 0 or threshold >= 1 -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_check_alert_p' must be a p-value threshold strictly between 0 and 1 "
        ~ "(e.g. 0.001); got " ~ (threshold | string) ~ ".") }}
  {%- endif -%}
  {{ return(threshold) }}
{% endmacro %}
