{#- fixed: verdict follows the fixed-horizon adjusted p-value (valid at one pre-planned look);
    sequential: it follows the adjusted sequential p-value (valid at every look). -#}
{% macro hte_config_verdict_basis() %}
  {{ return(hte_config_choice('hte_verdict_basis', ['fixed', 'sequential'],
      "be fixed (one pre-planned look) or sequential (confidence sequences: safe to look after every build)",
      default='fixed', ignore_case=true)) }}
{% endmacro %}
