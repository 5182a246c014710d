{#- Raise for a rule whose count is not zero: `check_sql` (as for hte_assert_no_rows, and selecting the same rows
    as the count) supplies the experiment and an example. Should it find none, the build still stops: a count
    above zero is never waved through. With `collect` (skip mode) the offending experiments are appended to it. -#}
{% macro hte_explain_problem(n_found, check_sql, input_name, column, problem, fix, collect=none) %}
  {%- if n_found > 0 -%}
    {%- set before = collect | length if collect is not none else 0 -%}
    {%- do hte_assert_no_rows(check_sql, input_name, column, problem, fix, collect=collect) -%}
    {%- if collect is not none and collect | length > before -%}{{ return('') }}{%- endif -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte input error in " ~ input_name ~ ": column '" ~ column ~ "': " ~ n_found ~ " " ~ problem ~ ". " ~ fix) }}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}
