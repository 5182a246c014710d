{#- Analysis settings of the SQL marts, read from vars and checked once, so that a typo fails the build with a
    sentence instead of silently changing which tests are corrected together. -#}

{% macro hte_config_alpha() %}
  {%- set alpha = var('hte_alpha') -%}
  {%- if alpha is not number or alpha <= 0 or alpha >= 1 -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_alpha' must be a number strictly between 0 and 1 (e.g. 0.05); got "
        ~ (alpha | string) ~ ".") }}
  {%- endif -%}
  {{ return(alpha) }}
{% endmacro %}
