{% macro hte_config_p_adjust_method() %}
  {{ return(hte_config_choice('hte_p_adjust', ['holm', 'bh', 'bonferroni'], "be holm, bh or bonferroni")) }}
{% endmacro %}
