{% macro hte_config_min_segment_size() %}
  {%- set size = var('hte_min_segment_size') -%}
  {%- if size is not number or size < 0 or size != size | int -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_min_segment_size' must be a whole number of units per arm, 0 or "
        ~ "more (e.g. 100); got " ~ (size | string) ~ ".") }}
  {%- endif -%}
  {{ return(size | int) }}
{% endmacro %}
