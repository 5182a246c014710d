{#- Analysis settings of the SQL marts, read from vars and checked once, so that a typo fails the build with a
    sentence instead of silently changing which tests are corrected together. -#}

{% macro hte_config_alpha() %}
  {{ return(hte_config_number('hte_alpha', 'be a number strictly between 0 and 1 (e.g. 0.05)', above=0, below=1)) }}
{% endmacro %}
