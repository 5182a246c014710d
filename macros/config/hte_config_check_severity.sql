{% macro hte_config_check_severity() %}
  {%- set severity = var('hte_check_severity') | string | lower -%}
  {%- if severity not in ['warn', 'error'] -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_check_severity' must be warn (alerts are reported in hte_checks) or "
        ~ "error (an alert also fails dbt build); got " ~ (var('hte_check_severity') | string) ~ ".") }}
  {%- endif -%}
  {{ return(severity) }}
{% endmacro %}
