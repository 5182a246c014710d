{% macro hte_metrics() %}
  {%- set metrics = var('hte_metrics') -%}
  {%- if metrics is not mapping or metrics | length == 0 -%}
    {{ hte_config_error('hte_metrics', 'map each metric name to {kind: binary} or {kind: continuous}', metrics) }}
  {%- endif -%}
  {%- for name, spec in metrics.items() -%}
    {%- if spec is not mapping or spec.get('kind') not in ['binary', 'continuous'] -%}
      {{ exceptions.raise_compiler_error(
          "dbt_hte configuration error: metric '" ~ name ~ "' in var 'hte_metrics' needs kind binary or "
          ~ "continuous; got " ~ (spec | string) ~ ".") }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(metrics) }}
{% endmacro %}
