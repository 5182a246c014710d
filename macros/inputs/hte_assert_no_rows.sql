{#- Fail the build, before anything is computed on bad data, when a validation query finds offending rows.

    hte_assert_no_rows(check_sql, ...) runs `check_sql`, which must return experiment_id, n_bad (how many rows or
    units are affected) and example (one offending value). hte_validation_rows + hte_raise_for_rows let one query
    (one pass over a large input) check several rules: the query returns a `problem` key first, then the same
    three columns, and each rule raises for its own key. The message names the input, the experiment, the column,
    the problem and the fix.

    Cheap detection, then explanation: on clean input (the common case) a staging model runs one counting pass per
    input (hte_count_problems) and nothing else; the query that finds an example for the message runs only for a
    rule whose count is not zero (hte_explain_problem). -#}
{% macro hte_assert_no_rows(check_sql, input_name, column, problem, fix) %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set result = run_query("select * from (" ~ check_sql ~ ") hte_check order by 1 limit 5") -%}
  {{ return(hte_raise_for_rows(result.rows, input_name, column, problem, fix)) }}
{% endmacro %}


{% macro hte_validation_rows(check_sql) %}
  {%- if not execute -%}{{ return([]) }}{%- endif -%}
  {{ return(run_query("select * from (" ~ check_sql ~ ") hte_check order by 1, 2").rows) }}
{% endmacro %}


{#- rows: (experiment_id, n_bad, example), or (problem, experiment_id, n_bad, example) filtered by `problem_key`. -#}
{% macro hte_raise_for_rows(rows, input_name, column, problem, fix, problem_key=none) %}
  {%- set lines = [] -%}
  {%- for row in rows -%}
    {%- set fields = row if problem_key is none else (row[1:] if row[0] == problem_key else none) -%}
    {%- if fields is not none and lines | length < 5 -%}
      {%- do lines.append("experiment '" ~ fields[0] ~ "', column '" ~ column ~ "': " ~ fields[1] ~ " " ~ problem
                          ~ " (e.g. " ~ fields[2] ~ ")") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if lines -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte input error in " ~ input_name ~ ": " ~ lines | join('; ') ~ ". " ~ fix) }}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}


{#- One row of counts, one per rule, from a single pass over an input: sums of `case when <rule> then 1 else 0
    end`. Returns n_rules zeros at parse time, when no query may run. -#}
{% macro hte_count_problems(count_sql, n_rules) %}
  {%- set counts = [] -%}
  {%- if not execute -%}
    {%- for _ in range(n_rules) -%}{%- do counts.append(0) -%}{%- endfor -%}
    {{ return(counts) }}
  {%- endif -%}
  {%- set row = run_query(count_sql).rows[0] -%}
  {%- for value in row -%}{%- do counts.append((value or 0) | int) -%}{%- endfor -%}
  {{ return(counts) }}
{% endmacro %}


{#- Raise for a rule whose count is not zero: `check_sql` (as for hte_assert_no_rows, and selecting the same rows
    as the count) supplies the experiment and an example. Should it find none, the build still stops: a count
    above zero is never waved through. -#}
{% macro hte_explain_problem(n_found, check_sql, input_name, column, problem, fix) %}
  {%- if n_found > 0 -%}
    {%- do hte_assert_no_rows(check_sql, input_name, column, problem, fix) -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte input error in " ~ input_name ~ ": column '" ~ column ~ "': " ~ n_found ~ " " ~ problem ~ ". " ~ fix) }}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}
