{% macro hte_metrics() %}
  {%- set metrics = var('hte_metrics') -%}
  {%- if metrics is not mapping or metrics | length == 0 -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_metrics' must map each metric name to {kind: binary} or "
        ~ "{kind: continuous}; got " ~ (metrics | string) ~ ".") }}
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
