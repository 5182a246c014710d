{#- Stop the build for a var set to a value dbt_hte cannot use, in the one wording every configuration check shares:
    which var, what it must be or do (`requirement`, e.g. 'be holm, bh or bonferroni'), and what it was. -#}
{% macro hte_config_error(var_name, requirement, value) %}
  {{ exceptions.raise_compiler_error(
      "dbt_hte configuration error: var '" ~ var_name ~ "' must " ~ requirement ~ "; got " ~ (value | string) ~ ".") }}
{% endmacro %}
