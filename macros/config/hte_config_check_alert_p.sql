{% macro hte_config_check_alert_p() %}
  {{ return(hte_config_number('hte_check_alert_p', 'be a p-value threshold strictly between 0 and 1 (e.g. 0.001)',
                              above=0, below=1)) }}
{% endmacro %}
