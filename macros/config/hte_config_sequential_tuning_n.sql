{#- Settings of the sequential intervals and of the monitoring models, read from vars and checked once, so that a
    typo fails the build with a sentence instead of silently changing what a verdict means. -#}

{#- The number of units (treatment + control of one comparison) at which the confidence sequence is tightest. -#}
{% macro hte_config_sequential_tuning_n() %}
  {{ return(hte_config_number('hte_sequential_tuning_n',
      "be a positive number of units (treatment plus control) at which the confidence sequence is tightest "
      ~ "(e.g. 10000)", above=0, default=10000)) }}
{% endmacro %}
