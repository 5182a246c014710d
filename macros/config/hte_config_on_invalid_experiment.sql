{#- var hte_on_invalid_experiment: what an input rule broken by one experiment does. `error` (the default) stops
    the build, naming the experiment; `skip` leaves that experiment out of every table, says why in hte_checks
    (check invalid_experiment_skipped, one alert row per rule it broke) and builds the others (model
    hte_skipped_experiments). -#}
{% macro hte_config_on_invalid_experiment() %}
  {%- set mode = var('hte_on_invalid_experiment', 'error') | string | lower -%}
  {%- if mode not in ['error', 'skip'] -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_on_invalid_experiment' must be error (a broken input rule stops the "
        ~ "build) or skip (the experiment that breaks it is left out, with an alert in hte_checks, and the others "
        ~ "are built); got " ~ (var('hte_on_invalid_experiment', 'error') | string) ~ ".") }}
  {%- endif -%}
  {{ return(mode) }}
{% endmacro %}
