{#- The check query (hte_explain_problem) of the rule against rows with a null key: per experiment, how many rows
    of the typed select `typed` meet `null_key` and one of their units. Rows without an experiment_id are listed
    under `no_experiment`: '(null)' where experiment_id is part of the key, '(all experiments)' where a row
    without one applies to every experiment (the features input). Either label names no single experiment, so
    skip mode cannot leave such rows out one experiment at a time (hte_raise_for_rows). -#}
{% macro hte_null_key_check(typed, null_key, no_experiment='(null)') %}
  {%- set experiment = "coalesce(experiment_id, '" ~ no_experiment ~ "')" -%}
  {{ return("select " ~ experiment ~ ", count(*), 'unit ' || coalesce(min(unit_id), '(null)') from (" ~ typed ~ ") t
     where " ~ null_key ~ " group by " ~ experiment) }}
{% endmacro %}
