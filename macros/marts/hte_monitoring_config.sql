{#- Settings of the sequential intervals and of the monitoring models, read from vars and checked once, so that a
    typo fails the build with a sentence instead of silently changing what a verdict means. -#}

{#- The number of units (treatment + control of one comparison) at which the confidence sequence is tightest. -#}
{% macro hte_config_sequential_tuning_n() %}
  {%- set n = var('hte_sequential_tuning_n', 10000) -%}
  {%- if n is not number or n <= 0 -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_sequential_tuning_n' must be a positive number of units (treatment "
        ~ "plus control) at which the confidence sequence is tightest (e.g. 10000); got " ~ (n | string) ~ ".") }}
  {%- endif -%}
  {{ return(n) }}
{% endmacro %}

{#- fixed: verdict follows the fixed-horizon adjusted p-value (valid at one pre-planned look);
    sequential: it follows the adjusted sequential p-value (valid at every look). -#}
{% macro hte_config_verdict_basis() %}
  {%- set basis = var('hte_verdict_basis', 'fixed') | string | lower -%}
  {%- if basis not in ['fixed', 'sequential'] -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_verdict_basis' must be fixed (one pre-planned look) or sequential "
        ~ "(confidence sequences: safe to look after every build); got " ~ (var('hte_verdict_basis') | string) ~ ".") }}
  {%- endif -%}
  {{ return(basis) }}
{% endmacro %}

{#- The run date of the history models as a SQL date literal: var hte_run_date (YYYY-MM-DD), else today (UTC,
    the date of the dbt invocation, so every model of one build records the same date). -#}
{% macro hte_config_run_date() %}
  {%- set value = var('hte_run_date', none) -%}
  {%- if value is none or (value | string | lower) in ['', 'none', 'null'] -%}
    {%- set value = modules.datetime.datetime.now(modules.pytz.utc).strftime('%Y-%m-%d') -%}
  {%- endif -%}
  {%- set value = value | string -%}
  {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_run_date' must be a date written YYYY-MM-DD (e.g. 2026-03-15), or "
        ~ "null for today in UTC; got " ~ value ~ ".") }}
  {%- endif -%}
  {{ return(value) }}
{% endmacro %}

{#- The run date as a typed SQL expression. -#}
{% macro hte_run_date_sql() -%}
cast('{{ hte_config_run_date() }}' as date)
{%- endmacro %}
