{#- The run date of the history models as a SQL date literal: var hte_run_date (YYYY-MM-DD), else today (UTC,
    the date of the dbt invocation, so every model of one build records the same date). -#}
{% macro hte_config_run_date() %}
  {%- set value = var('hte_run_date', none) -%}
  {%- if value is none or (value | string | lower) in ['', 'none', 'null'] -%}
    {%- set value = modules.datetime.datetime.now(modules.pytz.utc).strftime('%Y-%m-%d') -%}
  {%- endif -%}
  {%- set value = value | string -%}
  {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
    {{ hte_config_error('hte_run_date', 'be a date written YYYY-MM-DD (e.g. 2026-03-15), or null for today in UTC',
                        value) }}
  {%- endif -%}
  {{ return(value) }}
{% endmacro %}
