{#- Whether hte_alerts also compares the learner each comparison's targeting uses (hte_learner_history). It needs
    an adapter that runs the Python models (the choice comes from them) and has delete+insert incrementals (the
    history), so DuckDB and Snowflake; var hte_alert_on_learner_choice (default true) turns it off for a nightly
    job that should not depend on the learners (hte_alerts then reads only the SQL histories). -#}
{% macro hte_monitors_learner_choice() %}
  {%- set on = var('hte_alert_on_learner_choice', true) -%}
  {%- if on is string and (on | lower) in ['true', 'false'] -%}
    {%- set on = (on | lower) == 'true' -%}
  {%- endif -%}
  {%- if on is not boolean -%}
    {{ hte_config_error('hte_alert_on_learner_choice', 'be true or false', var('hte_alert_on_learner_choice')) }}
  {%- endif -%}
  {{ return(on and target.type in ['duckdb', 'snowflake']) }}
{% endmacro %}
