{#- The post-hook of hte_checks: each configured column or metric that matched no data (checks
    column_not_observed, metric_not_observed) is also a warning in dbt's log, in words, so that a typo in a var
    is seen by whoever runs `dbt build` and not only by whoever reads hte_checks. (The singular test
    hte_checks_pass reports alerts too, but as a row count.) Warnings, not errors: var hte_check_severity decides
    whether alerts stop the build. -#}
{% macro hte_warn_unobserved_configuration(relation) %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {#- one message per column, one for the metrics: the same text is on every experiment's row -#}
  {%- set rows = run_query(
      "select check_name, dimension, min(message) from " ~ relation ~ "
       where check_name in ('column_not_observed', 'metric_not_observed')
       group by check_name, dimension order by 1, 2").rows -%}
  {%- for row in rows -%}
    {%- do exceptions.warn("dbt_hte configuration warning: " ~ row[2]) -%}
  {%- endfor -%}
  {{ return('') }}
{% endmacro %}
