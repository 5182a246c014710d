{#- Configuration read from vars, checked once, so every model sees the same validated values. -#}

{% macro hte_segment_columns() %}
  {%- set columns = var('hte_segment_columns') -%}
  {%- if columns is string or columns is mapping -%}
    {{ hte_config_error('hte_segment_columns', "be a list of feature column names, e.g. ['device', 'country']",
                        columns) }}
  {%- endif -%}
  {%- set seen = [] -%}
  {%- for name in columns -%}
    {%- if name | lower in seen or name | lower in ['experiment_id', 'unit_id', 'features_at', 'arm', 'metric', 'y', 'x',
        'cluster_id', 'n', 'sum_y', 'sum_y2', 'sum_x', 'sum_x2', 'sum_xy', 'has_pre_period', 'dimension', 'segment'] -%}
      {{ exceptions.raise_compiler_error(
          "dbt_hte configuration error: var 'hte_segment_columns' lists '" ~ name
          ~ "' twice or uses a name dbt_hte reserves for its own columns (experiment_id, unit_id, arm, metric, y, x, n, sum_*, dimension, segment, ...); list each pre-treatment feature column once.") }}
    {%- endif -%}
    {%- do seen.append(name | lower) -%}
  {%- endfor -%}
  {{ return(columns) }}
{% endmacro %}
