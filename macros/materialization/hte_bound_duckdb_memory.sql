{#- on-run-start hook: on DuckDB, lower memory_limit from DuckDB's default (80% of the machine) to a quarter of the
    machine before any model runs. dbt-duckdb runs the Python models inside the dbt process, two at a time, each
    allowed a quarter (var hte_python_memory_budget_gb), so DuckDB at its default let the process reach 130% of the
    machine: the 10 M-unit build was killed at 23 GiB. A limit the profile chose (dbt-duckdb `settings:
    {memory_limit: ...}`) is kept: it differs from DuckDB's default, which RESET reveals. Until this hook, the
    limit was lowered only by the first Python model that streams its table (hte_engine.io.bound_duckdb_memory,
    which stays for sessions no hook ran on), so the SQL layer and the models beside it ran at the default.
    Other adapters manage their own memory: nothing to do there. -#}
{% macro hte_bound_duckdb_memory() %}
  {%- if execute and target.type == 'duckdb' -%}
    {%- set chosen = run_query("select current_setting('memory_limit')").columns[0].values()[0] -%}
    {%- do run_query("reset memory_limit") -%}
    {%- set default = run_query("select current_setting('memory_limit')").columns[0].values()[0] -%}
    {%- set parts = default.split(' ') -%}
    {%- if chosen != default or parts | length != 2 -%}
      {%- do run_query("set memory_limit = '" ~ chosen ~ "'") -%}
      {%- do log("dbt_hte: DuckDB memory_limit " ~ chosen ~ " (chosen by the profile) kept.") -%}
    {%- else -%}
      {#- DuckDB writes the limit as '<number> <unit>', e.g. '19.0 GiB': a quarter of the machine is 0.25 / 0.8 of it -#}
      {%- set bounded = (parts[0] | float) * 0.25 / 0.8 -%}
      {%- do run_query("set memory_limit = '" ~ ('%.1f' | format(bounded)) ~ parts[1] ~ "'") -%}
      {%- do log("dbt_hte: DuckDB memory_limit " ~ default ~ " (its default, 80% of the machine) lowered to "
          ~ ('%.1f' | format(bounded)) ~ " " ~ parts[1] ~ ", so that DuckDB and two Python models fit in memory "
          ~ "together; set memory_limit in the profile's settings to choose another.", info=true) -%}
    {%- endif -%}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}
