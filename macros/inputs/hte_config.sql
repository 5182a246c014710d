{#- Configuration read from vars, checked once, so every model sees the same validated values. -#}

{% macro hte_segment_columns() %}
  {%- set columns = var('hte_segment_columns') -%}
  {%- if columns is string or columns is mapping -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_segment_columns' must be a list of feature column names, e.g. "
        ~ "['device', 'country']; got " ~ (columns | string) ~ ".") }}
  {%- endif -%}
  {%- set seen = [] -%}
  {%- for name in columns -%}
    {%- if name | lower in seen or name | lower in ['experiment_id', 'unit_id', 'features_at', 'arm', 'metric', 'y', 'x', 'cluster_id', 'n', 'sum_y', 'sum_y2', 'sum_x', 'sum_x2', 'sum_xy', 'has_pre_period', 'dimension', 'segment'] -%}
      {{ exceptions.raise_compiler_error(
          "dbt_hte configuration error: var 'hte_segment_columns' lists '" ~ name
          ~ "' twice or uses a name dbt_hte reserves for its own columns (experiment_id, unit_id, arm, metric, y, x, n, sum_*, dimension, segment, ...); list each pre-treatment feature column once.") }}
    {%- endif -%}
    {%- do seen.append(name | lower) -%}
  {%- endfor -%}
  {{ return(columns) }}
{% endmacro %}

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

{#- Literal SQL for a string value, with quotes escaped (values from vars never reach SQL unescaped). -#}
{% macro hte_string_literal(value) %}
  {{- return("'" ~ (value | string | replace("'", "''")) ~ "'") -}}
{% endmacro %}

{#- The join of a feature row to its assignment. A features input with an experiment_id column joins on both
    keys (staging rejects null experiment_ids there); one without applies each unit's row to every experiment.
    Two plain equality keys, not coalesce(), so the warehouse can hash-join on both. -#}
{% macro hte_feature_join(features_alias, assignments_alias) %}
  {%- set on_unit = features_alias ~ ".unit_id = " ~ assignments_alias ~ ".unit_id" -%}
  {%- if hte_features_have_experiment_id() -%}
    {{- return(on_unit ~ " and " ~ features_alias ~ ".experiment_id = " ~ assignments_alias ~ ".experiment_id") -}}
  {%- endif -%}
  {{- return(on_unit) -}}
{% endmacro %}

{% macro hte_features_have_experiment_id() %}
  {#- ref() before the execute check: dbt must see the dependency at parse time -#}
  {%- set relation = hte_input_relation('hte_unit_features') -%}
  {%- if not execute -%}{{ return(false) }}{%- endif -%}
  {%- for column in adapter.get_columns_in_relation(relation) if column.name | lower == 'experiment_id' -%}
    {{- return(true) -}}
  {%- endfor -%}
  {{- return(false) -}}
{% endmacro %}

{#- Segment values are compared as strings; a null feature value is its own, visible level, '(missing)'.

    '(missing)' (null) and '(other)' (folded rare levels) are labels dbt_hte gives; dashboards filter on them, so
    they stay as they are. A real feature value that reads like one of them must not merge into it silently: a
    value that is one of the labels once its double quotes are removed ('(missing)', '"(missing)"', '(other)',
    ...) is shown inside one more pair of double quotes ('"(missing)"', '""(missing)""', '"(other)"'). Every other
    value keeps its text. The relabelling is one-to-one and never yields a label: a relabelled value starts with
    a double quote, a label does not, and a value left as it is never reads like a label. -#}
{% macro hte_segment_value(expression) %}
  {%- set text = "cast(" ~ expression ~ " as " ~ dbt.type_string() ~ ")" -%}
  {%- set quote = "'" ~ '"' ~ "'" -%}  {#- the SQL literal of one double quote #}
  {{- return("case when " ~ text ~ " is null then '(missing)'"
             ~ " when " ~ dbt.replace(text, quote, "''") ~ " in ('(missing)', '(other)')"
             ~ " then " ~ quote ~ " || " ~ text ~ " || " ~ quote
             ~ " else " ~ text ~ " end") -}}
{% endmacro %}
