{#- var hte_on_invalid_experiment: what an input rule broken by one experiment does. `error` (the default) stops
    the build, naming the experiment; `skip` leaves that experiment out of every table, says why in hte_checks
    (check invalid_experiment_skipped, one alert row per rule it broke) and builds the others (model
    hte_skipped_experiments). -#}
{% macro hte_config_on_invalid_experiment() %}
  {{ return(hte_config_choice('hte_on_invalid_experiment', ['error', 'skip'],
      "be error (a broken input rule stops the build) or skip (the experiment that breaks it is left out, with an "
      ~ "alert in hte_checks, and the others are built)", default='error', ignore_case=true)) }}
{% endmacro %}
