{#- Fail the build, before anything is computed on bad data, when `check_sql` returns rows.
    `check_sql` must return experiment_id, n_bad (how many rows or units are affected) and example (one
    offending value); the message names the input, the experiment, the column, the problem and the fix. -#}
{% macro hte_assert_no_rows(check_sql, input_name, column, problem, fix) %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set result = run_query("select * from (" ~ check_sql ~ ") hte_check order by 1 limit 5") -%}
  {%- if result.rows | length > 0 -%}
    {%- set lines = [] -%}
    {%- for row in result.rows -%}
      {%- do lines.append("experiment '" ~ row[0] ~ "', column '" ~ column ~ "': " ~ row[1] ~ " " ~ problem
                          ~ " (e.g. " ~ row[2] ~ ")") -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte input error in " ~ input_name ~ ": " ~ lines | join('; ') ~ ". " ~ fix) }}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}
