{#- The columns that partition segment tests into multiple-testing families (var hte_p_adjust_family). -#}
{% macro hte_config_family_columns() %}
  {%- set families = {
        'experiment_metric_arm': ['experiment_id', 'metric', 'arm'],
        'experiment_metric_arm_dimension': ['experiment_id', 'metric', 'arm', 'dimension'],
        'experiment': ['experiment_id'],
  } -%}
  {%- set family = var('hte_p_adjust_family') -%}
  {%- if family not in families -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_p_adjust_family' must be experiment_metric_arm, "
        ~ "experiment_metric_arm_dimension or experiment; got " ~ (family | string) ~ ".") }}
  {%- endif -%}
  {{ return(families[family]) }}
{% endmacro %}
