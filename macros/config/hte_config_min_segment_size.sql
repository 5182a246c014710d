{% macro hte_config_min_segment_size() %}
  {%- set size = var('hte_min_segment_size') -%}
  {%- if size is not number or size < 0 or size != size | int -%}
    {{ hte_config_error('hte_min_segment_size', 'be a whole number of units per arm, 0 or more (e.g. 100)', size) }}
  {%- endif -%}
  {{ return(size | int) }}
{% endmacro %}
