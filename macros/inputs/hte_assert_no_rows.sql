{#- Fail the build, before anything is computed on bad data, when a validation query finds offending rows.

    hte_assert_no_rows(check_sql, ...) runs `check_sql`, which must return experiment_id, n_bad (how many rows or
    units are affected) and example (one offending value). hte_validation_rows + hte_raise_for_rows let one query
    (one pass over a large input) check several rules: the query returns a `problem` key first, then the same
    three columns, and each rule raises for its own key. The message names the input, the experiment, the column,
    the problem and the fix. With `collect` (skip mode) the offending experiments are appended to that list
    instead (hte_raise_for_rows), all of them, not the first five.

    Cheap detection, then explanation: on clean input (the common case) a staging model runs one counting pass per
    input (hte_count_problems) and nothing else; the query that finds an example for the message runs only for a
    rule whose count is not zero (hte_explain_problem). -#}
{% macro hte_assert_no_rows(check_sql, input_name, column, problem, fix, collect=none) %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set limit = " limit 5" if collect is none else "" -%}
  {%- set result = run_query("select * from (" ~ check_sql ~ ") hte_check order by 1" ~ limit) -%}
  {{ return(hte_raise_for_rows(result.rows, input_name, column, problem, fix, collect=collect)) }}
{% endmacro %}
