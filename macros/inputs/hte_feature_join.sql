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
