{% macro hte_config_check_severity() %}
  {{ return(hte_config_choice('hte_check_severity', ['warn', 'error'],
      "be warn (alerts are reported in hte_checks) or error (an alert also fails dbt build)", ignore_case=true)) }}
{% endmacro %}
