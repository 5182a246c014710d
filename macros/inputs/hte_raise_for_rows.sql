{#- rows: (experiment_id, n_bad, example), or (problem, experiment_id, n_bad, example) filtered by `problem_key`.

    With `collect` (a list, var hte_on_invalid_experiment: skip) each offending experiment is appended to it as
    a problem record instead of stopping the build; rows that name no single experiment ('(null)', or features
    shared by '(all experiments)') cannot be skipped one experiment at a time and still stop it. -#}
{% macro hte_raise_for_rows(rows, input_name, column, problem, fix, problem_key=none, collect=none) %}
  {%- set lines = [] -%}
  {%- for row in rows -%}
    {%- set fields = row if problem_key is none else (row[1:] if row[0] == problem_key else none) -%}
    {%- if fields is not none and collect is not none and fields[0] not in ['(null)', '(all experiments)'] -%}
      {%- do collect.append({'experiment_id': fields[0] | string, 'input_name': input_name, 'column_name': column,
                             'n_bad': fields[1] | int, 'problem': problem, 'example': fields[2] | string,
                             'fix': fix}) -%}
    {%- elif fields is not none and lines | length < 5 -%}
      {%- do lines.append("experiment '" ~ fields[0] ~ "', column '" ~ column ~ "': " ~ fields[1] ~ " " ~ problem
                          ~ " (e.g. " ~ fields[2] ~ ")") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if lines -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte input error in " ~ input_name ~ ": " ~ lines | join('; ') ~ ". " ~ fix
        ~ (" (var hte_on_invalid_experiment: skip leaves out one experiment at a time; these rows name none.)"
           if collect is not none else "")) }}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}
