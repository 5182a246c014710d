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
