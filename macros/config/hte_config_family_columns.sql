{#- The columns that partition segment tests into multiple-testing families (var hte_p_adjust_family). -#}
{% macro hte_config_family_columns() %}
  {%- set families = {
        'experiment_metric_arm': ['experiment_id', 'metric', 'arm'],
        'experiment_metric_arm_dimension': ['experiment_id', 'metric', 'arm', 'dimension'],
        'experiment': ['experiment_id'],
  } -%}
  {%- set family = hte_config_choice('hte_p_adjust_family', families.keys() | list,
      "be experiment_metric_arm, experiment_metric_arm_dimension or experiment") -%}
  {{ return(families[family]) }}
{% endmacro %}
